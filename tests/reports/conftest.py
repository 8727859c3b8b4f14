"""Fixtures of the render tests: settings from the environment, the sample brief's .docx."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from qingzhi.config import get_settings
from qingzhi.reports.render import to_docx
from tests.reports.samples import sample_document


@pytest.fixture
def setenv(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Set a QINGZHI_* variable for one test (the settings are read again)."""

    def set_(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sample_docx() -> bytes:
    """The sample brief as .docx bytes."""
    return to_docx(sample_document())
