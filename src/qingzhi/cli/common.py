"""What the command line's modules share: the consoles, the configured database, and how a
command fails (a Chinese message and exit code 2, no traceback)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import NoReturn

import typer
from rich.console import Console

from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError, ValidationFailed
from qingzhi.store.db import Database

log = logging.getLogger(__name__)
console = Console()
err = Console(stderr=True)


def database() -> Database:
    """The configured database."""
    return Database.from_settings(get_settings())


def migrated_database() -> Database:
    """The configured database, if its schema is at the migrations' head; else exit with a
    Chinese message naming the command that fixes it (no traceback, nothing written)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from qingzhi.store.db import alembic_config

    db = database()
    url = db.engine.url.render_as_string(hide_password=True)
    heads = set(ScriptDirectory.from_config(alembic_config(str(db.engine.url))).get_heads())
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        err.print(f"[red]错误[/red]：无法连接数据库 {url}：{exc.__class__.__name__}")
        raise typer.Exit(code=2) from None
    if current != heads:
        state = "尚未初始化" if not current else f"版本 {', '.join(sorted(current))} 不是最新"
        err.print(f"[red]错误[/red]：数据库 {url} {state}：请先运行 qingzhi db upgrade")
        raise typer.Exit(code=2)
    return db


def fail(exc: QingzhiError) -> NoReturn:
    """Print a domain error and exit with code 2."""
    err.print(f"[red]错误[/red]：{exc.message}")
    if isinstance(exc.details, list):
        for item in exc.details[:50]:
            err.print(f"  - {item}")
    raise typer.Exit(code=2)


def parse_day(text: str, option: str) -> dt.date:
    """A date option's value (YYYY-MM-DD), or a refusal naming the option."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed.field(option, f"须为日期（如 2026-12-01），收到 {text!r}") from None
