"""``qingzhi demo``: load the demo county (two years across the reform, and what the other
domains load through their services once its calls are in) and run its live simulator."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from qingzhi.auth.context import system_actor
from qingzhi.cli.common import console, err
from qingzhi.cli.common import database as _database
from qingzhi.cli.common import fail as _fail
from qingzhi.cli.community import community_demo_line  # community (两队一室)
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError
from qingzhi.store.db import migrate

log = logging.getLogger(__name__)
demo_app = typer.Typer(help="演示数据（模拟）", no_args_is_help=True)


def print_demo_accounts() -> None:
    from qingzhi.demo.loader import DEMO_ACCOUNTS, DEMO_ADDRESS, DEMO_PASSWORD

    table = Table("用户名", "角色", "范围", title=f"演示账号（统一密码：{DEMO_PASSWORD}）")
    for acc in DEMO_ACCOUNTS:
        table.add_row(acc.username, acc.role.label, acc.description)
    console.print(table)
    console.print(f"访问地址：{DEMO_ADDRESS}　（数据为模拟生成，仅供演示）")


@demo_app.command("load")
def demo_load(
    seed: int = typer.Option(2026, "--seed", help="随机种子：同一种子生成相同的模拟县"),
    reform: bool = typer.Option(True, "--reform/--pre-reform", help="改革后（默认）或改革前的机构"),
    days: int | None = typer.Option(
        None,
        "--days",
        help="只导入最近若干天警情（截至昨天）；0 为只导入机构；不填为两年（改革前后各一年）",
    ),
    city: str = typer.Option(
        "dianjiang", "--city", help="dianjiang（模拟县）或 vancouver（真实数据）"
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="温哥华数据目录"),
    years: list[int] | None = typer.Option(None, "--years", help="只导入这些年份（温哥华）"),
) -> None:
    """Migrate, then load a demo (idempotent): the synthetic county 垫江 with two years of 110 calls
    (the pre-reform year under the pre-reform organisation, then the reformed year from
    QINGZHI_DEMO_REFORM_DATE) and the demo accounts, or with --city vancouver the real VPD
    records under a derived org."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qingzhi.demo.basemap import write_demo_basemap

    settings = get_settings()
    migrate(settings.database_url)
    db = _database()
    actor = system_actor("demo")
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err)
    if city == "vancouver":
        from qingzhi.demo.vancouver import DATA_DIR, load_vancouver

        tasks: dict[str, Any] = {}

        def advance(name: str, n: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=None)
            bar.advance(tasks[name], n)

        try:
            with bar:
                vr = load_vancouver(
                    db=db,
                    actor=actor,
                    settings=settings,
                    data_dir=data_dir or DATA_DIR,
                    years=years,
                    progress=advance,
                )
        except FileNotFoundError as exc:
            err.print(f"[red]错误[/red]：{exc}")
            raise typer.Exit(code=2) from None
        except QingzhiError as exc:
            _fail(exc)
        r = vr.org.import_report
        console.print(
            f"温哥华机构（辖区由数据推导）：{vr.units} 个单位；新增 {r.created}，更新 {r.updated}，"
            f"未变 {r.unchanged}"
        )
        for name, s in vr.files:
            console.print(
                f"{name}：共 {s.rows} 行，新增 {s.created}，"
                f"已存在 {s.existing}，错误 {len(s.errors)}"
            )
        console.print(f"共新增警情 {vr.created}（真实记录，温哥华警察局公开数据）")
        print_demo_accounts()
        return
    if city != "dianjiang":
        err.print(f"[red]错误[/red]：未知城市 {city!r}（dianjiang 或 vancouver）")
        raise typer.Exit(code=2)
    if days is None and reform:
        window = _load_two_years(db, settings, seed, bar)
    else:
        window = _load_one_window(db, settings, seed, bar, reform, 365 if days is None else days)
    console.print(write_demo_basemap(seed=seed).summary())  # basemap (issue 15)
    if window is not None:
        _demo_extras(db, actor, settings, seed, window)
    print_demo_accounts()


def _load_one_window(
    db: Any, settings: Any, seed: int, bar: Any, reform: bool, days: int
) -> tuple[dt.date, int] | None:
    """One organisation and the last ``days`` days of calls; the window loaded, if any."""
    from qingzhi.demo.loader import load_demo, load_incidents

    actor = system_actor("demo")
    try:
        with db.session(write=True) as session:
            report = load_demo(session=session, actor=actor, seed=seed, reform=reform)
        r = report.import_report
        console.print(f"模拟县已导入：新增 {r.created}，更新 {r.updated}，未变 {r.unchanged}")
        if report.created_users:
            console.print(f"新建演示账号：{', '.join(report.created_users)}")
        if days <= 0:
            return None
        with bar:
            task = bar.add_task(f"模拟警情 {days} 天", total=None)
            ir = load_incidents(
                db=db,
                actor=actor,
                settings=settings,
                seed=seed,
                days=days,
                progress=lambda n: bar.advance(task, n),
            )
    except QingzhiError as exc:
        _fail(exc)
    if ir.created:
        db.analyze()
    console.print(
        f"模拟警情（{ir.start} 起 {days} 天）：共 {ir.calls} 条（有效 {ir.valid}），"
        f"新增 {ir.created}，已存在 {ir.existing}；"
        f"用时 {ir.load_seconds:.1f} 秒（{ir.rows_per_second:.0f} 条/秒）"
    )
    return ir.start, days


def _demo_extras(
    db: Any, actor: Any, settings: Any, seed: int, window: tuple[dt.date, int]
) -> None:
    """What the demo loads through the other domains' services once its calls are in: the
    plans, the cases with their teams and tasks (of the reformed window's calls) and the
    community's work."""
    from qingzhi.demo.planning import load_plans

    try:
        plans = load_plans(db=db, actor=actor, settings=settings)
        console.print(f"演示规划方案：新算 {len(plans)} 个（页面“规划”）")
        _demo_cases(db, actor, settings, seed, window)  # cases and tasks (快侦快办, 督办)
        console.print(community_demo_line(db=db, actor=actor, settings=settings, seed=seed))
    except QingzhiError as exc:
        _fail(exc)


def _demo_cases(db: Any, actor: Any, settings: Any, seed: int, window: tuple[dt.date, int]) -> None:
    """The demo's cases, teams and tasks (qingzhi.demo.cases), loaded through their services."""
    from qingzhi.demo.cases import load_cases
    from qingzhi.demo.loader import generate_demo_incidents

    cr = load_cases(
        db=db,
        actor=actor,
        settings=settings,
        specs=generate_demo_incidents(seed=seed, days=window[1], start=window[0]),
        seed=seed,
    )
    console.print(
        f"模拟案件：立案 {cr.opened}，破案 {cr.cleared}，快侦快办 {cr.rapid}（督办 {cr.tasks}），"
        f"已存在 {cr.skipped}"
    )


def _load_two_years(db: Any, settings: Any, seed: int, bar: Any) -> tuple[dt.date, int] | None:
    """The two-year demo (w15-demo): pre-reform year, reform, reformed year."""
    from qingzhi.demo.years import load_two_years

    tasks: dict[str, Any] = {}

    def advance(name: str, n: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(f"模拟警情（{name}）", total=None)
        bar.advance(tasks[name], n)

    try:
        with bar:
            r = load_two_years(
                db=db, actor=system_actor("demo"), settings=settings, seed=seed, progress=advance
            )
    except QingzhiError as exc:
        _fail(exc)
    if r.pre_org is not None and r.pre is not None:
        console.print(
            f"改革前机构已导入；改革前警情（{r.pre.start} 起 {r.pre.days} 天）：共 {r.pre.calls} 条"
            f"（有效 {r.pre.valid}），新增 {r.pre.created}"
        )
    else:
        console.print("库中已是改革后机构：改革前一年的警情保持不变")
    o = r.org.import_report
    console.print(
        f"改革（{r.reform_on}）后机构已导入：新增 {o.created}，更新 {o.updated}，未变 {o.unchanged}"
    )
    if r.post is not None:
        p = r.post
        console.print(
            f"改革后警情（{p.start} 起 {p.days} 天）：共 {p.calls} 条（有效 {p.valid}），"
            f"新增 {p.created}，已存在 {p.existing}（数据为模拟生成）"
        )
        if p.created or (r.pre is not None and r.pre.created):
            db.analyze()
        return p.start, p.days
    return None


@demo_app.command("live")
def demo_live(
    speed: float = typer.Option(
        1.0, "--speed", min=0.1, max=100.0, help="来警倍速：警情到达加快，出警、到场、处置时长不变"
    ),
    seed: int = typer.Option(2026, "--seed", help="随机种子（与 demo load 相同）"),
    duration: float | None = typer.Option(None, "--duration", help="运行秒数；不填则一直运行"),
    auto_dispatch: bool = typer.Option(True, "--auto-dispatch/--no-auto-dispatch", help="自动派警"),
) -> None:
    """Simulate live 110 calls and officers' GPS for the demo county (Ctrl-C to stop)."""
    from qingzhi.demo.live import Simulator

    sim = Simulator(
        db=_database(), settings=get_settings(), speed=speed, seed=seed, auto_dispatch=auto_dispatch
    )
    try:
        sim.setup()
    except QingzhiError as exc:
        _fail(exc)
    console.print(
        f"实时模拟已启动：{len(sim.officers)} 名街面在岗警力（按排班），"
        f"来警倍速 {speed:g}（数据为模拟生成）"
    )
    try:
        stats = sim.run(duration=duration)
    except KeyboardInterrupt:
        stats = sim.stats
    console.print(
        f"模拟结束：新警情 {stats.calls}，定位 {stats.fixes}，派警 {stats.dispatched}，"
        f"到场 {stats.arrived}，结警 {stats.closed}"
    )
