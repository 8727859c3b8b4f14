"""Shared parts of the browser tests: Debian's Chromium driven by Playwright (headless, no
network beyond loopback), the app served on a committed SQLite database, a signed-in page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.store.db import Database
from tests.factories import PASSWORD, build_org, incident_item
from tests.live.server import committed_database, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# pytestmark of a browser test module: marked, and skipped with a reason without Chromium
MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is missing"
    ),
]


@contextmanager
def served_site(
    tmp: Path, settings: Settings, calls: Sequence[IncidentCreate] = ()
) -> Iterator[tuple[str, Database]]:
    """The app on a committed SQLite database with the test org and ``calls``, served on
    loopback; yields its base URL and the database."""
    with committed_database("sqlite", tmp, None) as db:
        with db.session(write=True) as session:
            build_org(session)
        if calls:
            take_in(db, settings, calls)
        with serve(db, settings) as url:
            yield url, db


def take_in(db: Database, settings: Settings, calls: Sequence[IncidentCreate]) -> None:
    """Take ``calls`` in at once, as the 110 system's bulk intake does."""
    with db.session(write=True) as session:
        incidents.intake_many(
            session=session, actor=system_actor("110"), settings=settings, items=list(calls)
        )


def dispute_call(source_id: str, at: str, lon: float, lat: float, n: int) -> IncidentCreate:
    """A neighbours' dispute at (lon, lat), from caller number ``n``."""
    return incident_item(
        source_id=source_id,
        at=at,
        location=(lon, lat),
        subtype="neighbour_dispute",
        description="邻里纠纷",
        address="城一社区",
        caller_phone=f"139{n:08d}",
        priority=3,
    )


def login(
    browser: Any, url: str, username: str, target: str, size: tuple[int, int] = (1920, 1080)
) -> Any:
    """A new page signed in as ``username`` through the login form, ready on ``target``; the
    page's script errors are collected in ``page.errors``."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/login?next={target}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready]", timeout=15_000)
    page.errors = errors
    return page
