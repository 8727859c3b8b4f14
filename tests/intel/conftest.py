"""Fixtures for the analysis API tests: signed-in clients by role, a committed database."""

from __future__ import annotations

from tests.incidents.conftest import as_user
from tests.jobs.conftest import committed

__all__ = ["as_user", "committed"]
