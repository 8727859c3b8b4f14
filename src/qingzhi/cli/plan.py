"""``qingzhi plan bundle|allocate|simulate|roads``: a planning run on the configured store.

Each command builds the same run body as ``POST /api/planning/plans`` (its options, or a JSON
file of the body with ``--params``), checks it with the same service (a bad field or constraints
no plan meets: one Chinese line naming it, exit 2, nothing saved), saves the plan (audited, as
the CLI's system actor), computes it in this process with a progress bar, and prints the result
as JSON (the whole plan) or CSV (its main table), or writes it to ``--out``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from qingzhi.auth.context import system_actor
from qingzhi.cli.common import console, database, err, fail
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError, validation_message
from qingzhi.plans import service, tables

log = logging.getLogger(__name__)

plan_app = typer.Typer(
    help="规划：捆绑运行、警力配置、出警仿真、交所合一道路里程", no_args_is_help=True
)

Fmt = Annotated[str, typer.Option("--format", help="json（整个方案）或 csv（主表）")]
Out = Annotated[Path | None, typer.Option(help="写入文件（默认打印）")]
Params = Annotated[Path | None, typer.Option(help="运行参数 JSON 文件（同 API 请求体）")]
Days = Annotated[int | None, typer.Option(help="使用最近多少天的警情（默认 365）")]


def _body(kind: str, params: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if params is not None:
        try:
            loaded = json.loads(params.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            err.print(f"[red]错误[/red]：无法读取参数文件 {params}：{exc}")
            raise typer.Exit(code=2) from None
        if not isinstance(loaded, dict):
            err.print("[red]错误[/red]：参数文件须为 JSON 对象")
            raise typer.Exit(code=2)
        body.update(loaded)
    body.update({k: v for k, v in options.items() if v is not None})
    body["kind"] = kind
    return body


def _run(kind: str, body: dict[str, Any], fmt: str, out: Path | None) -> None:
    if fmt not in ("json", "csv"):
        err.print("[red]错误[/red]：--format 须为 json 或 csv")
        raise typer.Exit(code=2)
    try:
        run = service.RUN.validate_python(body)
    except ValidationError as exc:
        for e in exc.errors()[:10]:
            where = ".".join(str(x) for x in e["loc"][1:]) or "body"
            err.print(f"[red]错误[/red]：{where}：{validation_message(dict(e))}")
        raise typer.Exit(code=2) from None
    settings = get_settings()
    db = database()
    actor = system_actor("cli")
    try:
        with db.session(write=False) as session:
            service.check_run(session=session, actor=actor, settings=settings, run=run)
        with db.session(write=True) as session:
            plan_id = service.create(session=session, actor=actor, run=run).id
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("开始", total=1.0)

            def progress(fraction: float, message: str) -> None:
                bar.update(task, completed=fraction, description=message)

            result = service.run_compute(
                db=db, actor=actor, settings=settings, plan_id=plan_id, progress=progress
            )
        with db.session(write=False) as session:
            read = service.to_read(service.get(session=session, actor=actor, plan_id=plan_id))
    except QingzhiError as exc:
        fail(exc)
    text = (
        json.dumps(read, ensure_ascii=False, indent=2)
        if fmt == "json"
        else tables.to_csv(kind, result).removeprefix("\ufeff")
    )
    if out is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        out.write_text(text, encoding="utf-8")
        err.print(f"方案 {plan_id} 已保存，结果写入 {out}")


@plan_app.command("bundle")
def bundle(
    params: Params = None,
    days: Days = None,
    n_bundles: Annotated[int | None, typer.Option(help="中心派出所个数")] = None,
    n_bundled: Annotated[int | None, typer.Option(help="参与捆绑的派出所个数")] = None,
    max_seat_minutes: Annotated[
        float | None, typer.Option(help="中心所到成员所驻地最长分钟")
    ] = None,
    balance_weight: Annotated[float | None, typer.Option(help="失衡项权重（默认 0.1/人）")] = None,
    fmt: Fmt = "json",
    out: Out = None,
) -> None:
    """Station bundling by MIP, scored beside the current bundles and no bundling."""
    options: dict[str, Any] = {
        "days": days,
        "n_bundles": None if n_bundles is None else [n_bundles, n_bundles],
        "n_bundled": None if n_bundled is None else [n_bundled, n_bundled],
        "max_seat_minutes": max_seat_minutes,
        "balance_weight": balance_weight,
    }
    _run("bundle", _body("bundle", params, options), fmt, out)


@plan_app.command("allocate")
def allocate(
    params: Params = None,
    days: Days = None,
    officer_kind: Annotated[str | None, typer.Option("--kind", help="sworn 或 auxiliary")] = None,
    target_minutes: Annotated[float | None, typer.Option(help="平均出警时间目标（分钟）")] = None,
    min_gain: Annotated[
        float | None, typer.Option(help="每调 1 人至少降低全局平均出警时间多少分钟")
    ] = None,
    alone: Annotated[bool, typer.Option(help="按各所独立（不按现行捆绑）配置")] = False,
    fmt: Fmt = "json",
    out: Out = None,
) -> None:
    """Officer moves between operating units by workload, with their predicted effect."""
    options: dict[str, Any] = {
        "days": days,
        "officer_kind": officer_kind,
        "target_minutes": target_minutes,
        "min_gain_minutes": min_gain,
        "bundled": False if alone else None,
    }
    _run("allocate", _body("allocate", params, options), fmt, out)


@plan_app.command("simulate")
def simulate(
    params: Params = None,
    days: Days = None,
    neighbours: Annotated[bool, typer.Option(help="允许相邻单位跨界支援")] = False,
    fmt: Fmt = "json",
    out: Out = None,
) -> None:
    """A year of calls replayed before and after bundling and allocation."""
    options: dict[str, Any] = {"days": days, "neighbours": True if neighbours else None}
    _run("simulate", _body("simulate", params, options), fmt, out)


@plan_app.command("roads")
def roads(params: Params = None, days: Days = None, fmt: Fmt = "json", out: Out = None) -> None:
    """Road km by class per station and per officer (交所合一)."""
    _run("roads", _body("roads", params, {"days": days}), fmt, out)
