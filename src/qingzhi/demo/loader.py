"""Loading the demo county into a database: the org bundle plus one demo account per role.

Idempotent: the bundle import upserts by code (unchanged rows write nothing, not even audit
records) and accounts that already exist are skipped. Every account shares ``DEMO_PASSWORD``; the
demo is for a laptop, never for a police network.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth import service as auth
from qingzhi.auth.context import Actor
from qingzhi.auth.models import User
from qingzhi.auth.permissions import Role
from qingzhi.demo.county import BUREAU_CODE, GUIYANG_CODE, build_county
from qingzhi.org import exchange
from qingzhi.org.models import Officer, Unit

log = logging.getLogger(__name__)

DEMO_PASSWORD = "qingzhi-demo"  # noqa: S105 - the documented password of the demo accounts
DEMO_ADDRESS = "http://127.0.0.1:8000"
CENTRAL_CHIEF_UNIT = f"{BUREAU_CODE}ZX01"


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


def load_demo(
    *, session: Session, actor: Actor, seed: int = 2026, reform: bool = True
) -> LoadReport:
    """Import the demo county for ``seed`` and create the demo accounts that do not exist yet."""
    files = build_county(seed, reform=reform)
    report = LoadReport(
        import_report=exchange.import_bundle(session=session, actor=actor, files=files)
    )
    numbers = _officer_numbers(files)
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
            role=acc.role,
            unit_code=acc.unit,
            officer_number=number,
            display_name=None if number else acc.description,
        )
        report.created_users.append(acc.username)
    return report
