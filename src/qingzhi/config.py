"""Runtime settings: one pydantic-settings class read from QINGZHI_* environment variables."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
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
    # Login throttling (the rules: ``qingzhi.auth.throttle``). Per username from one address:
    # after `login_slow_after` consecutive failures each attempt waits 2^(n - slow_after) s
    # (at most `login_max_delay_seconds`), after `login_lock_after` that address is locked out of
    # that username for `login_lock_minutes`. Per username from all addresses: after
    # `login_guard_after` failures an address may fail only `login_slow_after` times. Per
    # address: at most `login_address_limit` failures in a sliding `login_address_window_minutes`.
    login_slow_after: int = Field(default=3, ge=1)
    login_lock_after: int = Field(default=10, ge=1)
    login_lock_minutes: float = Field(default=15, gt=0)
    login_max_delay_seconds: int = Field(default=60, ge=1)
    login_guard_after: int = Field(default=10, ge=1)
    login_address_limit: int = Field(default=30, ge=1)
    login_address_window_minutes: float = Field(default=15, gt=0)
    # Reverse proxies (comma-separated addresses or CIDR networks) whose X-Forwarded-For names
    # the client; without them the client is the TCP peer and the header is ignored.
    trusted_proxies: str = ""
    # API tokens: the lifetime of a new token when none is asked for, and the longest allowed.
    token_days: int = Field(default=90, ge=1)
    token_max_days: int = Field(default=365, ge=1)
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
    # Base map (qingzhi.basemap): a local MBTiles or PMTiles file served at /tiles/{z}/{x}/{y}.{ext}
    # (raster png/jpg/webp, or vector pbf), and the datum its tiles are drawn on (wgs84: OSM,
    # PGIS/CGCS2000; gcj02: Chinese commercial maps, shifted in the browser); unset, the
    # archive's own `datum` metadata or wgs84.
    basemap: Path | None = None
    basemap_datum: Literal["wgs84", "gcj02"] | None = None
    # A local MapLibre style (JSON) for a vector base map; unset, one is made from the file's
    # `vector_layers` (qingzhi.basemap.style). Its vector sources are pointed at the served tiles.
    basemap_style: Path | None = None
    # Body-camera streams on other hosts (the camera platform's HLS server): their origins
    # (scheme://host[:port], comma- or space-separated), added to the CSP's media-src and
    # connect-src (qingzhi.web.csp). Default none: streams only from the server's own origin.
    camera_origins: str = ""
    # Dispatch: estimated arrival = straight-line distance x detour factor / speed, or travel
    # time on the road graph of an OpenStreetMap extract (.osm, .osm.bz2 or .pbf) when set.
    dispatch_detour_factor: float = 1.4
    dispatch_speed_kmh: float = 30.0
    road_graph: Path | None = None
    # Live: how often an SSE hub looks for new events without a wake-up, how long events are kept.
    live_poll_seconds: float = 0.5
    live_retention_hours: float = 24.0
    # How often an open event stream re-checks its token or session (and ends once it is gone).
    live_recheck_seconds: float = Field(default=5.0, gt=0, le=60)
    # Request bodies: every request up to max_body_bytes; bulk intake and imports from a caller
    # with a credential up to max_bulk_bytes (counted as received, chunked bodies too).
    max_body_bytes: int = 1024 * 1024
    max_bulk_bytes: int = 64 * 1024 * 1024
    # The public URL the server is reached at (e.g. https://qingzhi.example.gov.cn), for the
    # absolute links of the OGC API; unset, the address the server listens on. Never taken
    # from a request's Host header.
    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # Audit checkpoints (docs/audit.md): the chain's head signed with an Ed25519 key kept out of
    # the database, appended to a file to copy off the host. The server signs one when the head
    # has moved `records` records or `minutes` minutes past the last (0 minutes: the server makes
    # none; run `qingzhi audit checkpoint` from cron). No signing key: no checkpoints.
    audit_signing_key: Path | None = None  # the private key (`qingzhi audit keygen`)
    audit_public_key: Path | None = None  # what verify trusts (default: the signing key's half)
    audit_checkpoint_file: Path = Path("var/audit-checkpoints.log")
    audit_checkpoint_minutes: float = Field(default=5.0, ge=0)
    audit_checkpoint_records: int = Field(default=1000, ge=1)
    audit_origin: str | None = Field(default=None, max_length=200)  # default: qingzhi/<bureau>

    # Documents: the Fandol fonts' folder (default: Debian's texlive-lang-chinese path), the
    # LibreOffice program for PDF (default: soffice on PATH), a conversion's time limit and how
    # many conversions one process runs at once (each LibreOffice takes ~150 MB).
    font_dir: Path | None = None
    soffice: str | None = None
    pdf_timeout_seconds: float = Field(default=120.0, gt=0, le=1800)
    pdf_max_parallel: int = Field(default=2, ge=1, le=16)
    # Background jobs (qingzhi.jobs): threads per server process that run them, how many may wait
    # or run at once in the whole store, how often a process shows its jobs are alive, and after
    # how long without a sign a queued or running job is taken for dead (its process stopped).
    jobs_threads: int = Field(default=1, ge=1, le=8)
    jobs_max_active: int = Field(default=8, ge=1, le=1000)
    jobs_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    jobs_stale_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Forecast fits (intel.forecasting): a fit estimated to take at most this long (from the grid
    # cells, active cells and fit days; intel.budget) is made inside the request; a longer one
    # runs as a background job (202 with the job's id).
    forecast_inline_seconds: float = Field(default=5.0, ge=0, le=30)

    # An export with callers' phones unmasked lists every incident it shows in the audit trail
    # before it starts: at most this many (a bureau's year is 60,000-85,000 calls).
    export_unmasked_max_rows: int = Field(default=200_000, ge=1, le=2_000_000)
    # The demo county (w15-demo): the date its reform took effect (station bundling, traffic
    # integration); the demo loads the pre-reform year before it and the reformed year from it.
    # Unset: 12 months before today.
    demo_reform_date: dt.date | None = None

    # --- tasks and cases (督办, 快侦快办; qingzhi.tasks, qingzhi.cases) ---
    # Where the application keeps its files (task attachments under attachments/, named by
    # their SHA-256), the largest attachment accepted, and the hours an overdue task stays on
    # its owner's superior's board before it reaches the bureau's too.
    data_dir: Path = Path("var")
    task_attachment_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    task_escalate_bureau_hours: float = Field(default=24.0, ge=0, le=24 * 30)
    # Fast clearance (快破) counts cases cleared within this many hours of opening (no national
    # definition: local practice uses 24, 48 or 72; every page and brief prints it).
    fast_clear_hours: int = Field(default=72, ge=1, le=24 * 30)
    # A new case's number when none is given: {bureau} the bureau's code, {year} the opening
    # year (local time), {seq} that bureau's count of cases opened that year plus one.
    case_number_format: str = Field(default="{bureau}-{year}-{seq:05d}", max_length=100)

    # --- the operator's loop (issue 15: several units, call taking, attention) ---
    # Dispatch policy: for calls of these categories, or of this priority or more urgent
    # (1 特急, 2 紧急; 0: none), an auxiliary (辅警) is not proposed or sent without a sworn
    # officer (民警) going or already on the incident.
    dispatch_sworn_categories: list[str] = Field(default_factory=lambda: ["criminal"])
    dispatch_sworn_priority: int = Field(default=2, ge=0, le=4)
    # Attention: the longest a call may wait undispatched, by priority (seconds; 接警 to 派警:
    # hand over within 3 minutes); the waiting timer turns amber at `attention_warn_fraction`
    # of it and red past it.
    handover_target_seconds: dict[int, int] = Field(
        default_factory=lambda: {1: 180, 2: 180, 3: 180, 4: 180}
    )
    attention_warn_fraction: float = Field(default=2 / 3, gt=0, lt=1)

    # community (两队一室): the mediation packages (调解套餐: code → name, e.g.
    # QINGZHI_COMMUNITY_PACKAGES='{"police_lawyer": "民警+律师"}'), the average household size
    # that turns a zone's registered population into an estimate of its households, how long
    # after settlement later calls are linked to a dispute, and the follow-up visit's default.
    community_packages: dict[str, str] = Field(
        default_factory=lambda: {
            "police_secretary": "民警+社区书记",
            "police_grid": "民警+网格员",
            "police_lawyer": "民警+律师",
        }
    )
    community_household_size: float = Field(default=2.6, gt=0.5, le=20)
    community_watch_days: int = Field(default=30, ge=1, le=365)
    community_follow_up_days: int = Field(default=7, ge=0, le=90)

    # Briefs (qingzhi.reports: 日研判、周会商、月调度): the archive's folder (files are never
    # overwritten), how many places the hotspot list shows, when each kind falls due (local
    # time; weekly on Mondays, monthly on the 1st) and after how long a scheduler's claim on a
    # brief whose runner stopped may be taken over.
    briefs_dir: Path = Path("var/briefs")
    briefs_hotspot_places: int = Field(default=10, ge=1, le=50)
    briefs_daily_at: str = Field(default="07:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    briefs_weekly_at: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    briefs_monthly_at: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    briefs_claim_minutes: float = Field(default=30.0, gt=0, le=1440)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        """Every entry must be an IP address or network."""
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)
        return value

    @field_validator("camera_origins")
    @classmethod
    def _valid_camera_origins(cls, value: str) -> str:
        """Every entry must be an origin (scheme://host[:port]); kept normalised."""
        return " ".join(camera_origin(part) for part in value.replace(",", " ").split())

    @property
    def camera_origin_list(self) -> tuple[str, ...]:
        """The body-camera origins, as the CSP lists them."""
        return tuple(self.camera_origins.split())


_ORIGIN_HOST = re.compile(
    r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$"
)


def camera_origin(text: str) -> str:
    """``text`` as an origin (``https://host:port``, lower case, no path), or ValueError."""
    parts = urlsplit(text.strip().lower().rstrip("/"))
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("http", "https")
        or not _ORIGIN_HOST.match(parts.hostname or "")
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or port == -1
    ):
        raise ValueError(
            f"camera_origins：{text!r} 不是有效的来源（应为 http(s)://主机[:端口]，不带路径）"
        )
    return f"{parts.scheme}://{parts.netloc}"


# The project's shared data folder (real data used by the demos, tests and benchmarks: the
# Dianjiang boundary, Vancouver police records, OpenStreetMap extracts), beside the checkout.
_CHECKOUT_SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_data_dir(*parts: str) -> Path:
    """A path inside the shared data folder: ``QINGZHI_SHARED_DATA`` when set, else
    ``shared/data`` beside the checkout (the one place that knows where it is)."""
    base = os.environ.get("QINGZHI_SHARED_DATA")
    return (Path(base) if base else _CHECKOUT_SHARED_DATA).joinpath(*parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
