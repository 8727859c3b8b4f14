"""Shared fixtures for the analysis tests: the Vancouver data folder beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from qingzhi.analysis.events import EventTable, read_events
from qingzhi.config import shared_data_dir

DATA_DIR = shared_data_dir("vancouver_vpd")


@pytest.fixture(scope="session")
def vancouver_files() -> list[Path]:
    """The Vancouver police CSV files, or skip when the shared data folder is missing."""
    files = sorted(DATA_DIR.glob("crimedata_csv_AllNeighbourhoods_*.csv.gz"))
    if not files:
        pytest.skip(f"Vancouver data not found at {DATA_DIR} (shared/data beside the repo)")
    return files


@pytest.fixture(scope="session")
def vancouver(vancouver_files: list[Path]) -> EventTable:
    """Every located Vancouver record (X/Y in EPSG:26910, local times, TYPE as category)."""
    return read_events(
        vancouver_files,
        time_cols=["YEAR", "MONTH", "DAY", "HOUR", "MINUTE"],
        x_col="X",
        y_col="Y",
        category_col="TYPE",
    )[0]
