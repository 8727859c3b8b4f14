"""Loading the demo county into a database: the org bundle, one demo account per role, a year of
synthetic 110 calls.

Idempotent: the bundle import upserts by code (unchanged rows write nothing, not even audit
records), accounts that already exist are skipped, and incidents go through the one intake path
(``qingzhi.incidents.intake.intake_batches``), which returns existing source ids instead of adding
them again. Every account shares ``DEMO_PASSWORD`` (set outside the password rules, which refuse
it); the demo is for a laptop, never for a police network: ``qingzhi serve`` refuses to start
while an active account has it, unless ``--allow-demo-passwords``.

The incidents are ``qingzhi.demo.incidents.generate_incidents`` for the ``days`` local days that
end yesterday (Asia/Shanghai), loaded in batches of ``INCIDENT_BATCH``, one transaction per batch,
as action ``incident.import``. Intake routes them by jurisdiction and links repeat calls itself (by
caller and by place); the generator's own ``repeat_of`` and its case and mediation outcomes stay in
``IncidentSpec.extras()`` until the cases and community domains have tables for them. A lifecycle
step that would lie in the future (a call late last night still being handled) is left out: that
incident is loaded as still open, as it is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth import service as auth
from qingzhi.auth.context import Actor
from qingzhi.auth.models import User
from qingzhi.auth.permissions import Role
from qingzhi.config import Settings
from qingzhi.demo.county import generate_county
from qingzhi.demo.incident_spec import LIFECYCLE_FIELDS, IncidentSpec
from qingzhi.demo.incidents import generate_incidents
from qingzhi.demo.kpi import record_reforms
from qingzhi.demo.orgbundle import build_county, demo_roster
from qingzhi.demo.reference import BUREAU_CODE, BUREAU_NAME, GUIYANG_CODE, LOCAL_TZ, LOCAL_TZ_NAME
from qingzhi.demo.reform import CENTRAL_CODES, pre_reform_rates
from qingzhi.duty import service as duty
from qingzhi.errors import ValidationFailed
from qingzhi.incidents import intake
from qingzhi.incidents.schemas import IncidentImport
from qingzhi.org import exchange
from qingzhi.org.models import Bureau, Officer, Unit
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

DEMO_PASSWORD = "qingzhi-demo"  # noqa: S105 - the documented password of the demo accounts
DEMO_ADDRESS = "http://127.0.0.1:8000"
CENTRAL_CHIEF_UNIT = CENTRAL_CODES[0]
DEFAULT_DAYS = 365
INCIDENT_BATCH = 5000


@dataclass(frozen=True)
class DemoAccount:
    """A demo login: username, role, unit code (None: the whole bureau), linked officer kind."""

    username: str
    role: Role
    unit: str | None
    description: str
    officer_kind: str | None = None  # link the first matching officer of the unit


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", Role.admin, None, "系统管理员（全局）"),
    DemoAccount("commander", Role.commander, None, "指挥长（全局）"),
    DemoAccount("dispatcher", Role.dispatcher, None, "接处警调度员（全局）"),
    DemoAccount("analyst", Role.analyst, None, "研判分析员（全局）"),
    DemoAccount("chief_guiyang", Role.station_chief, GUIYANG_CODE, "桂阳派出所所长"),
    DemoAccount("chief_central", Role.station_chief, CENTRAL_CHIEF_UNIT, "中心派出所所长"),
    DemoAccount("officer", Role.officer, GUIYANG_CODE, "桂阳派出所社区民警", "sworn"),
    DemoAccount("auxiliary", Role.auxiliary, GUIYANG_CODE, "桂阳派出所社区辅警", "auxiliary"),
    DemoAccount("viewer", Role.viewer, None, "只读用户（全局）"),
)


@dataclass
class LoadReport:
    """What a demo load did."""

    import_report: exchange.ImportReport
    roster: duty.RosterReport = field(default_factory=duty.RosterReport)
    created_users: list[str] = field(default_factory=list)
    skipped_users: list[str] = field(default_factory=list)


def _officer_numbers(files: dict[str, bytes]) -> dict[tuple[str, str], str]:
    """The first community officer's police number per (unit, kind) in the bundle."""
    out: dict[tuple[str, str], str] = {}
    reader = csv.DictReader(io.StringIO(files["officers.csv"].decode("utf-8")))
    for row in reader:
        key = (row["unit"], row["kind"])
        if row["team"] == "community" and key not in out:
            out[key] = row["police_number"]
    return out


def check_city(session: Session, *, code: str, name: str) -> None:
    """Refuse a demo load into a database that already holds another bureau (another city)."""
    row = session.execute(select(Bureau.code, Bureau.name).order_by(Bureau.id).limit(1)).first()
    if row is not None and row.code != code:
        raise ValidationFailed.field(
            "database",
            f"此数据库已有其他公安局“{row.name}”（代码 {row.code}），不能再载入“{name}”；"
            "请用 QINGZHI_DATABASE_URL 指向另一个数据库",
        )


def load_demo(
    *,
    session: Session,
    actor: Actor,
    seed: int = 2026,
    reform: bool = True,
    now: dt.datetime | None = None,
    reform_on: dt.date | None = None,
) -> LoadReport:
    """Import the demo county for ``seed`` with its duty roster (officers on or off duty as it
    has them at ``now``) and create the demo accounts that do not exist yet."""
    check_city(session, code=BUREAU_CODE, name=BUREAU_NAME)
    now = now or dt.datetime.now(dt.UTC)
    files = build_county(seed, reform=reform, at=now)
    report = LoadReport(
        import_report=exchange.import_bundle(
            session=session, actor=actor, bundle=exchange.parse_bundle(files)
        )
    )
    plan = demo_roster(seed, reform=reform)
    report.roster = duty.keep_roster(
        session=session, actor=actor, shifts=plan.shifts, roster=plan.rows
    )
    duty.apply(session=session, actor=actor, at=now, tz=LOCAL_TZ_NAME)
    create_accounts(session=session, actor=actor, report=report, files=files)
    if reform:
        record_reforms(session=session, actor=actor, effective=reform_on)
    return report


def create_accounts(
    *, session: Session, actor: Actor, report: LoadReport, files: dict[str, bytes]
) -> None:
    """The demo accounts that do not exist yet (those of units missing from the org skipped)."""
    numbers = _officer_numbers(files) if "officers.csv" in files else {}
    linked = set(session.execute(select(User.officer_id)).scalars())
    for acc in DEMO_ACCOUNTS:
        if session.execute(select(User.id).where(User.username == acc.username)).first():
            report.skipped_users.append(acc.username)
            continue
        if acc.unit and not session.execute(select(Unit.id).where(Unit.code == acc.unit)).first():
            log.info(
                "demo account %s skipped: unit %s is not in this organisation",
                acc.username,
                acc.unit,
            )
            report.skipped_users.append(acc.username)
            continue
        number = numbers.get((acc.unit or "", acc.officer_kind or "")) if acc.officer_kind else None
        if number is not None:
            officer_id = session.execute(
                select(Officer.id).where(Officer.police_number == number)
            ).scalar_one_or_none()
            if officer_id in linked:
                number = None
        auth.create_user(
            session=session,
            actor=actor,
            username=acc.username,
            password=DEMO_PASSWORD,
            password_policy=False,  # the documented demo password; `serve` refuses it by default
            role=acc.role,
            unit_code=acc.unit,
            officer_number=number,
            display_name=None if number else acc.description,
        )
        report.created_users.append(acc.username)


# ---------------------------------------------------------------- incidents


@dataclass
class IncidentLoadReport:
    """What a demo incident load did."""

    start: dt.date
    days: int
    calls: int = 0
    valid: int = 0
    created: int = 0
    existing: int = 0
    still_open: int = 0
    generate_seconds: float = 0.0
    load_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        """Calls taken in per second of loading (generation not counted)."""
        return self.calls / self.load_seconds if self.load_seconds else 0.0


def demo_window(days: int, *, now: dt.datetime | None = None) -> dt.date:
    """The first local day of the ``days`` days that end yesterday (Asia/Shanghai)."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(LOCAL_TZ).date()
    return today - dt.timedelta(days=days)


def to_import(spec: IncidentSpec, now: dt.datetime) -> tuple[IncidentImport, bool]:
    """The intake item of a spec; lifecycle steps after ``now`` dropped (True: still open)."""
    body = spec.to_intake()
    open_now = False
    for name in LIFECYCLE_FIELDS:
        at = getattr(spec, name)
        if at is not None and at > now:
            body[name] = None
            open_now = True
    return IncidentImport.model_validate(body), open_now


def generate_demo_incidents(
    *,
    seed: int = 2026,
    days: int = DEFAULT_DAYS,
    start: dt.date | None = None,
    pre_reform: bool = False,
) -> list[IncidentSpec]:
    """The demo county's incident specs for ``days`` days from ``start`` (default: to yesterday),
    under the reformed organisation or (``pre_reform``) before the reform."""
    county = generate_county(seed)
    extra = pre_reform_rates(county) if pre_reform else {}
    return generate_incidents(
        county, days=days, seed=seed, start=start or demo_window(days), **extra
    )


def load_incidents(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    seed: int = 2026,
    days: int = DEFAULT_DAYS,
    start: dt.date | None = None,
    batch: int = INCIDENT_BATCH,
    specs: Sequence[IncidentSpec] | None = None,
    progress: Callable[[int], None] | None = None,
    now: dt.datetime | None = None,
) -> IncidentLoadReport:
    """Generate the demo incidents and take them in through ``intake_batches``, a batch at a time.

    The org must be loaded first (intake routes by its jurisdictions). Idempotent: source ids are
    stable for a seed and a window, and intake returns existing ones instead of adding them.
    """
    now = now or dt.datetime.now(dt.UTC)
    start = start or demo_window(days, now=now)
    with db.session() as session:
        check_city(session, code=BUREAU_CODE, name=BUREAU_NAME)
        if session.execute(select(Bureau.id).limit(1)).first() is None:
            raise ValidationFailed.field("database", "请先导入模拟县机构（qingzhi demo load）")
    report = IncidentLoadReport(start=start, days=days)
    t0 = time.perf_counter()
    if specs is None:
        specs = generate_demo_incidents(seed=seed, days=days, start=start)
    report.generate_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()

    def batches() -> Iterator[list[IncidentImport]]:
        for first in range(0, len(specs), batch):
            items: list[IncidentImport] = []
            for spec in specs[first : first + batch]:
                item, open_now = to_import(spec, now)
                items.append(item)
                report.still_open += open_now
            yield items

    done = 0
    for results in intake.intake_batches(
        db=db, actor=actor, settings=settings, batches=batches(), action="incident.import"
    ):
        for spec, r in zip(specs[done : done + len(results)], results, strict=True):
            report.calls += 1
            report.valid += spec.valid
            if r.created:
                report.created += 1
            else:
                report.existing += 1
        done += len(results)
        if progress is not None:
            progress(len(results))
    report.load_seconds = time.perf_counter() - t1
    log.info(
        "demo incidents: %d calls (%d valid), %d new, %d existing in %.1f s",
        report.calls,
        report.valid,
        report.created,
        report.existing,
        report.load_seconds,
    )
    return report
