"""Fixtures for live tests: the app on the committed database, served on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qingzhi.store.db import Database
from tests.live.server import serve


@pytest.fixture
def live_server(committed: Database) -> Iterator[str]:
    """The app on ``committed`` served on a loopback port."""
    with serve(committed) as url:
        yield url
