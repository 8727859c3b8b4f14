"""Dispatch tests reuse the live tests' bearer-token clients."""

from tests.live.conftest import as_user

__all__ = ["as_user"]
