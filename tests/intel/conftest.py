"""Fixtures for the analysis API tests: the incident tests' signed-in clients by role."""

from __future__ import annotations

from tests.incidents.conftest import as_user

__all__ = ["as_user"]
