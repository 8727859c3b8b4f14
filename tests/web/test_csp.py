"""The Content-Security-Policy header: body-camera origins (QINGZHI_CAMERA_ORIGINS) are added to
media-src and connect-src, exactly those; a bad origin is a configuration error naming it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.web.app import create_app
from tests.factories import Org


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _policy(settings: Settings, db: Database) -> dict[str, list[str]]:
    with TestClient(create_app(settings, db), base_url="http://testserver") as c:
        return _directives(c.get("/login").headers["Content-Security-Policy"])


def test_by_default_media_and_requests_stay_on_the_own_origin(db: Database, org: Org) -> None:
    csp = _policy(Settings(database_url="sqlite://"), db)
    assert csp["connect-src"] == ["'self'"]
    # blob: is the Media Source URL hls.js plays the stream through, made by the page itself
    assert csp["media-src"] == ["'self'", "blob:"]
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]


def test_camera_origins_are_added_to_media_and_connect_only(db: Database, org: Org) -> None:
    settings = Settings(
        database_url="sqlite://",
        camera_origins="https://Cam.Example.gov.cn:8443/, http://10.20.0.7",
    )
    csp = _policy(settings, db)
    cams = ["https://cam.example.gov.cn:8443", "http://10.20.0.7"]
    assert csp["connect-src"] == ["'self'", *cams]
    assert csp["media-src"] == ["'self'", "blob:", *cams]
    assert csp["script-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["default-src"] == ["'self'"]


@pytest.mark.parametrize(
    "bad",
    [
        "cam.example.gov.cn",  # no scheme
        "ftp://cam.example.gov.cn",
        "https://cam.example.gov.cn/live",  # a path
        "https://*.example.gov.cn",  # no wildcards
        "https://cam.example.gov.cn:70000",
        "https://user@cam.example.gov.cn",
        "https://cam.example.gov.cn;script-src",  # no smuggled directive
    ],
)
def test_a_bad_camera_origin_is_a_configuration_error_naming_it(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(database_url="sqlite://", camera_origins=f"https://ok.example.gov.cn {bad}")
    assert "camera_origins" in str(err.value)
    assert repr(bad.lower()) in str(err.value) or repr(bad) in str(err.value)
