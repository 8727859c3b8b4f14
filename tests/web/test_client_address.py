"""The client address the login throttle keys on: the TCP peer, unless it is a trusted proxy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from qingzhi.auth.deps import client_address
from qingzhi.config import Settings


def _request(peer: str, forwarded: list[str], proxies: str = "") -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    app = SimpleNamespace(state=SimpleNamespace(settings=Settings(trusted_proxies=proxies)))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/auth/login",
        "headers": headers,
        "client": (peer, 50000),
        "app": app,
    }
    return Request(scope)


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address(_request("203.0.113.5", ["10.0.0.1"])) == "203.0.113.5"


def test_a_trusted_proxy_names_the_client() -> None:
    proxies = "10.0.0.0/8, 192.0.2.10"
    # the client's own claim (first) is not believed: the last hop before our proxies is
    assert client_address(_request("10.0.0.2", ["6.6.6.6, 198.51.100.7"], proxies)) == (
        "198.51.100.7"
    )
    # two trusted proxies in a row, over two headers
    assert (
        client_address(_request("10.0.0.2", ["198.51.100.7", "192.0.2.10"], proxies))
        == "198.51.100.7"
    )
    # a peer that is not a trusted proxy: its header is not believed
    assert client_address(_request("203.0.113.5", ["198.51.100.7"], proxies)) == "203.0.113.5"
    # a malformed hop: nothing before it is trusted, the peer is the client
    assert client_address(_request("10.0.0.2", ["198.51.100.7, junk"], proxies)) == "10.0.0.2"
    # IPv4 in IPv6 form is the same address
    assert client_address(_request("::ffff:203.0.113.5", [])) == "203.0.113.5"


def test_a_bad_proxy_setting_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.0/8, not-an-address")
