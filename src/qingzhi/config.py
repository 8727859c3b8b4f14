"""Runtime settings: one pydantic-settings class read from QINGZHI_* environment variables."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


class Settings(BaseSettings):
    """All of qingzhi's configuration; every field can be set as QINGZHI_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="QINGZHI_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/qingzhi.db"
    timezone: str = "Asia/Shanghai"
    session_cookie: str = "qingzhi_session"
    csrf_cookie: str = "qingzhi_csrf"
    session_hours: int = 12
    cookie_secure: bool = False
    # Login throttling: after `login_slow_after` consecutive failures each further attempt must
    # wait 2^(n - slow_after) seconds (capped); after `login_lock_after` the account is locked.
    login_slow_after: int = 3
    login_lock_after: int = 10
    login_lock_minutes: int = 15
    login_max_delay_seconds: int = 60
    sqlite_busy_timeout_ms: int = 30_000
    # SQLite's page cache per connection (its default is 2 MB): intake updates eight indexes
    # of a large table, whose pages a small cache reads again and again.
    sqlite_cache_mb: int = Field(default=64, ge=2, le=4096)
    # Group commit on SQLite: under load the writer waits this long for more writes to join.
    sqlite_gather_ms: float = Field(default=2.0, ge=0, le=50)
    projected_crs: str = "EPSG:32648"
    # Repeat calls (重复报警): same caller within this window, or the same category within
    # this distance and window, of an earlier valid incident.
    repeat_caller_window_minutes: int = 24 * 60
    repeat_window_minutes: int = 120
    repeat_radius_m: float = 200.0
    tile_url: str | None = None  # an intranet tile server for the map, e.g. .../{z}/{x}/{y}.png
    # Dispatch: estimated arrival = straight-line distance x detour factor / speed, or travel
    # time on the road graph of an OpenStreetMap extract (.osm, .osm.bz2 or .pbf) when set.
    dispatch_detour_factor: float = 1.4
    dispatch_speed_kmh: float = 30.0
    road_graph: Path | None = None
    # Live: how often an SSE hub looks for new events without a wake-up, how long events are kept.
    live_poll_seconds: float = 0.5
    live_retention_hours: float = 24.0
    max_body_bytes: int = 1024 * 1024
    max_bulk_bytes: int = 64 * 1024 * 1024
    # An export with callers' phones unmasked lists every incident it shows in the audit trail
    # before it starts: at most this many (a bureau's year is 60,000-85,000 calls).
    export_unmasked_max_rows: int = Field(default=200_000, ge=1, le=2_000_000)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
