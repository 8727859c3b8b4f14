"""``qingzhi import incidents``: CAD/110 exports as they come (``incidents.importer``).

Exit status: 0 when every row loaded or was already there (``--check``: every row is good);
1 when some rows were rejected (the others loaded); 2 when the mapping, the header or the store
is wrong (nothing written); 3 when more rows were bad than ``--max-errors`` (nothing written).
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from qingzhi.auth.context import system_actor
from qingzhi.cli.common import console, err, migrated_database
from qingzhi.cli.common import fail as _fail
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError
from qingzhi.incidents.importer import ImportSummary, Mapping, Place, check_file, import_file
from qingzhi.incidents.importer import load_place as _load_place
from qingzhi.org.service.place import apply_place
from qingzhi.runtime import tune_gc

log = logging.getLogger(__name__)

import_app = typer.Typer(help="导入 110/CAD 警情数据", no_args_is_help=True)

EXIT_ROWS_FAILED = 1
EXIT_TOO_MANY = 3
_FLAG_LABELS = {
    "no_location": "无坐标（导入，按地址分派）",
    "placeholder_point": "占位坐标（0/0 附近）",
    "outside_boundary": "坐标在辖区边界之外",
    "point_dropped": "坐标已弃用（placeholder = drop_point）",
    "dst_ambiguous": "夏令时回拨时段的时间（已按规则判别）",
    "dst_nonexistent": "夏令时拨快时段不存在的时间（已按规则换算）",
    "clock12": "12 小时制无上午/下午（已按判别列判别）",
}


class _Rate(ProgressColumn):
    """The rate: MB/s while checking (by bytes), rows/s while writing."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("")
        if task.fields.get("unit") == "bytes":
            return Text(f"{speed / 1e6:,.1f} MB/s")
        return Text(f"{speed:,.0f} 行/s")


class _Bar:
    """A rich progress bar per file: the check by bytes read, then the load by rows."""

    def __init__(self, progress: Progress, name: str) -> None:
        self.progress = progress
        self.name = name
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if phase not in self.tasks:
            label = "检查" if phase == "check" else "写入"
            self.tasks[phase] = self.progress.add_task(
                f"{self.name} {label}", total=total, unit="bytes" if phase == "check" else "rows"
            )
        self.progress.update(self.tasks[phase], completed=done, total=total)


def _workers_for(path: Path) -> int:
    """Processes for checking a file: one for a small file, else the cores (at most 4)."""
    if path.stat().st_size < 8_000_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def _report(summary: ImportSummary, *, check: bool, tz: ZoneInfo) -> None:
    console.print(
        f"[bold]{summary.file}[/bold]（编码 {summary.encoding}）：共 {summary.rows} 行，"
        f"合格 {summary.good}，错误行 {summary.bad_rows}"
        + (
            ""
            if check or not summary.written
            else f"；新增 {summary.created}，已存在 {summary.existing}，更正 {summary.updated}"
        )
    )
    if summary.unused_columns:
        console.print(f"  未使用的列：{', '.join(summary.unused_columns)}")
    if summary.first and summary.last:
        first, last = (t.astimezone(tz).isoformat(sep=" ") for t in (summary.first, summary.last))
        order = "导入时按时间排序写入" if check else "已按时间排序写入"
        console.print(
            f"  时间范围（{tz.key}）：{first} — {last}"
            + ("" if summary.in_order else f"（行未按时间排序：{order}）")
        )
    if summary.by_mapping:
        parts = [f"{k} {v}" for k, v in summary.by_mapping.most_common()]
        console.print(f"  类别映射命中：{'；'.join(parts)}")
    if summary.to_default:
        top = [f"{k or '（空）'} {v}" for k, v in summary.to_default.most_common(10)]
        console.print(f"  归入 default 的原始类别：{'；'.join(top)}")
    for flag, label in _FLAG_LABELS.items():
        if summary.flags.get(flag):
            console.print(f"  {label}：{summary.flags[flag]}")
    found = summary.gaps()
    if found:
        console.print(f"  [yellow]数据缺失提示[/yellow]：{len(found)} 天无警情或远低于通常")
        for g in found[:10]:
            console.print(f"    {g.label}")
        if len(found) > 10:
            console.print(f"    ……另有 {len(found) - 10} 天")


def _write_errors(path: Path, summaries: list[ImportSummary]) -> None:
    """Every rejected row whole: file, row, field, reason code, reason, then its cells."""
    width = max((len(s.header) for s in summaries), default=0)
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        header = summaries[0].header if summaries else []
        w.writerow(["file", "row", "field", "code", "reason", *header])
        for s in summaries:
            for line, rejected in sorted(s.rejected.items()):
                fields = "; ".join(e.field for e in rejected.errors)
                codes = "; ".join(e.type for e in rejected.errors)
                reasons = "; ".join(e.reason for e in rejected.errors)
                cells = rejected.cells + [""] * (width - len(rejected.cells))
                w.writerow([s.file, line, fields, codes, reasons, *cells])


@import_app.command("incidents")
def import_incidents(
    files: list[Path] = typer.Argument(..., exists=True, help="CSV（可 .gz）或 Excel .xlsx 文件"),
    mapping: Path = typer.Option(..., "--mapping", help="映射文件 TOML（如 vancouver_vpd.toml）"),
    check: bool = typer.Option(False, "--check", help="只检查，不写入（读完整个文件并报告）"),
    update: bool = typer.Option(
        False, "--update", help="已存在的警情若有变化则更正（新版本，留痕）"
    ),
    max_errors: int | None = typer.Option(
        None, "--max-errors", help="错误行超过此数则不写入（退出码 3）"
    ),
    limit: int | None = typer.Option(None, "--limit", help="每个文件最多读取的行数"),
    workers: int | None = typer.Option(
        None, "--workers", help="检查所用进程数（默认：大文件用 CPU 核数，至多 4）"
    ),
    errors_out: Path | None = typer.Option(
        None, "--errors", help="把每个错误行（整行、文件、行号、字段、原因代码）写入此 CSV"
    ),
) -> None:
    """Import CAD/110 exports: checked whole first, then loaded in time order (idempotent)."""
    tune_gc()
    db = migrated_database()
    settings = apply_place(get_settings(), db)  # the place's time zone for naive times
    try:
        parsed = Mapping.load(mapping, default_timezone=settings.timezone)
    except QingzhiError as exc:
        _fail(exc)
    place: Place = _load_place(db, parsed)
    summaries: list[ImportSummary] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        for path in files:
            progress = _Bar(bar, path.name)
            n_workers = workers if workers is not None else _workers_for(path)
            try:
                if check:
                    summary = check_file(
                        path=path,
                        mapping=parsed,
                        place=place,
                        progress=progress,
                        limit=limit,
                        workers=n_workers,
                    )
                else:
                    summary = import_file(
                        db=db,
                        actor=system_actor("import"),
                        settings=settings,
                        path=path,
                        mapping=parsed,
                        place=place,
                        progress=progress,
                        limit=limit,
                        max_errors=max_errors,
                        update=update,
                        workers=n_workers,
                    )
            except QingzhiError as exc:
                bar.stop()
                _fail(exc)
            summaries.append(summary)
    for summary in summaries:
        _report(summary, check=check, tz=parsed.timezone)
    errors = [e for s in summaries for r in s.rejected.values() for e in r.errors]
    for e in errors[:20]:
        err.print(f"  {e.file} 第{e.row}行 {e.field} [{e.type}]：{e.reason}")
    if len(errors) > 20:
        err.print(
            f"  ……另有 {len(errors) - 20} 处错误" + ("" if errors_out else "（--errors 写出全部）")
        )
    if errors_out is not None:
        _write_errors(errors_out, summaries)
        console.print(f"错误行已写入 {errors_out}")
    if not check and any(not s.written for s in summaries):
        err.print(f"[red]错误行超过 --max-errors {max_errors}：未写入[/red]")
        raise typer.Exit(code=EXIT_TOO_MANY)
    if any(s.bad_rows for s in summaries):
        raise typer.Exit(code=EXIT_ROWS_FAILED)
