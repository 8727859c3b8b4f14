"""What the command line's modules share: the consoles, the configured database, and how a
command fails (a Chinese message and exit code 2, no traceback)."""

from __future__ import annotations

import logging
from typing import NoReturn

import typer
from rich.console import Console

from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError
from qingzhi.store.db import Database

log = logging.getLogger(__name__)
console = Console()
err = Console(stderr=True)


def database() -> Database:
    """The configured database."""
    return Database.from_settings(get_settings())


def fail(exc: QingzhiError) -> NoReturn:
    """Print a domain error and exit with code 2."""
    err.print(f"[red]错误[/red]：{exc.message}")
    if isinstance(exc.details, list):
        for item in exc.details[:50]:
            err.print(f"  - {item}")
    raise typer.Exit(code=2)
