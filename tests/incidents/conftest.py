"""Fixtures for incident tests: signed-in API clients by role (bearer tokens)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from qingzhi.auth.context import system_actor
from qingzhi.auth.tokens import create_token
from qingzhi.store.db import Database
from tests.factories import Org


@pytest.fixture
def as_user(client: TestClient, db: Database, org: Org) -> Callable[[str], TestClient]:
    """A function giving the client with a bearer token of the named user."""
    tokens: dict[str, str] = {}

    def use(username: str) -> TestClient:
        if username not in tokens:
            with db.session(write=True) as session:
                tokens[username], _ = create_token(
                    session=session, actor=system_actor(), username=username
                )
        client.headers["Authorization"] = f"Bearer {tokens[username]}"
        return client

    return use


def body(**overrides: object) -> dict[str, object]:
    """A valid intake body inside station A (lon 107.0–107.1, lat 30.0–30.1), WGS-84."""
    base: dict[str, object] = {
        "source_id": "110-20261101-0001",
        "received_at": "2026-11-01T10:00:00+08:00",
        "category": "public_order",
        "subtype": "fight",
        "description": "两名男子在烧烤店门口打架",
        "address": "城一社区人民路12号",
        "caller_phone": "13812345678",
        "location": {"lon": 107.05, "lat": 30.05, "datum": "wgs84"},
        "priority": 2,
    }
    base.update(overrides)
    return base
