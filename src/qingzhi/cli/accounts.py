"""The ``qingzhi user`` and ``qingzhi token`` commands: accounts and their lifecycle, API tokens.

Passwords are typed at a hidden prompt (twice) or read from the first line of standard input
with ``--password-stdin``, never given on the command line (other users and the shell history
would see them). Each command is one transaction, audited as the system's ``cli`` actor.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from qingzhi.auth import accounts
from qingzhi.auth import service as auth
from qingzhi.auth.context import Actor, system_actor
from qingzhi.auth.models import User
from qingzhi.auth.tokens import create_token, revoke_token
from qingzhi.cli.common import console, database, err, fail
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError

log = logging.getLogger(__name__)
T = TypeVar("T")

user_app = typer.Typer(help="用户", no_args_is_help=True)
token_app = typer.Typer(help="API 令牌", no_args_is_help=True)


def _read_password(from_stdin: bool, *, prompt: str = "密码") -> str:
    """A password from the first line of standard input, or typed twice at a hidden prompt
    (never from the command line, where other users and the shell history would see it)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            err.print("[red]错误[/red]：标准输入中没有密码")
            raise typer.Exit(code=2)
        return password
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt="再次输入")
    return value


_PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="从标准输入读取密码（第一行），否则交互输入"
)


def _user_action(username: str, action: Callable[[Session, Actor, User], T]) -> T:
    """Run ``action(session, actor, user)`` on the named account in one transaction."""
    db = database()
    actor = system_actor("cli")
    try:
        with db.session(write=True) as session:
            user = accounts.get_user(session=session, actor=actor, username=username)
            return action(session, actor, user)
    except QingzhiError as exc:
        fail(exc)


@user_app.command("create")
def user_create(
    username: str = typer.Option(..., "--username"),
    role: str = typer.Option(..., "--role"),
    unit: str | None = typer.Option(None, "--unit", help="单位代码；不填为全局权限"),
    officer: str | None = typer.Option(None, "--officer", help="关联民警警号"),
    password_stdin: bool = _PASSWORD_STDIN,
) -> None:
    """Create a user account (the password is typed at a prompt, or read from stdin)."""
    password = _read_password(password_stdin)
    db = database()
    try:
        with db.session(write=True) as session:
            user = auth.create_user(
                session=session,
                actor=system_actor("cli"),
                username=username,
                password=password,
                role=role,
                unit_code=unit,
                officer_number=officer,
            )
            console.print(f"已创建用户 {user.username}（{user.role.label}）")
    except QingzhiError as exc:
        fail(exc)


@user_app.command("list")
def user_list() -> None:
    """List the accounts: state, live sessions and tokens, login throttle."""
    db = database()
    with db.session() as session:
        users = accounts.list_users(
            session=session, actor=system_actor("cli"), settings=get_settings()
        )
        table = Table("用户名", "角色", "单位", "状态", "会话", "令牌", "连续失败", "登录限制")
        for u in users:
            limits = [f"受保护至 {u.guarded_until:%Y-%m-%d %H:%M} UTC"] if u.guarded_until else []
            limits += [f"锁定 {a}" for a in u.locked_addresses]
            table.add_row(
                u.user.username,
                u.user.role.label,
                u.user.unit.code if u.user.unit is not None else "全局",
                "启用" if u.user.active else "停用",
                str(u.sessions),
                str(u.tokens),
                str(u.failed_logins),
                "；".join(limits),
            )
    console.print(table)


@user_app.command("disable")
def user_disable(username: str = typer.Argument(...)) -> None:
    """Disable an account: its sessions and API tokens end at once."""
    ended = _user_action(
        username,
        lambda session, actor, user: accounts.set_active(
            session=session, actor=actor, user=user, active=False
        ),
    )
    console.print(f"已停用 {username}：结束会话 {ended.sessions} 个，吊销令牌 {ended.tokens} 个")


@user_app.command("enable")
def user_enable(username: str = typer.Argument(...)) -> None:
    """Enable a disabled account."""
    _user_action(
        username,
        lambda session, actor, user: accounts.set_active(
            session=session, actor=actor, user=user, active=True
        ),
    )
    console.print(f"已启用 {username}")


@user_app.command("set-password")
def user_set_password(
    username: str = typer.Argument(...),
    password_stdin: bool = _PASSWORD_STDIN,
    revoke_tokens: bool = typer.Option(False, "--revoke-tokens", help="同时吊销其全部 API 令牌"),
) -> None:
    """Set an account's password: its sessions end and its login throttle is cleared."""
    password = _read_password(password_stdin, prompt="新密码")
    ended = _user_action(
        username,
        lambda session, actor, user: accounts.reset_password(
            session=session, actor=actor, user=user, password=password, revoke_tokens=revoke_tokens
        ),
    )
    console.print(
        f"已重置 {username} 的密码：结束会话 {ended.sessions} 个，吊销令牌 {ended.tokens} 个"
    )


@user_app.command("logout")
def user_logout(
    username: str = typer.Argument(...),
    tokens: bool = typer.Option(False, "--tokens", help="同时吊销其全部 API 令牌"),
) -> None:
    """End every session of an account (and, with --tokens, revoke its API tokens)."""
    ended = _user_action(
        username,
        lambda session, actor, user: accounts.end_sessions(
            session=session, actor=actor, user=user, tokens=tokens
        ),
    )
    console.print(f"{username}：结束会话 {ended.sessions} 个，吊销令牌 {ended.tokens} 个")


@user_app.command("unlock")
def user_unlock(
    username: str | None = typer.Argument(None, help="用户名（解除所有地址对它的登录限制）"),
    address: str | None = typer.Option(None, "--address", help="同时（或只）解除此地址的限制"),
) -> None:
    """Lift the login throttle of an account and/or of a client address."""
    db = database()
    actor = system_actor("cli")
    try:
        with db.session(write=True) as session:
            user = None
            if username is not None:
                user = accounts.get_user(session=session, actor=actor, username=username)
            cleared = accounts.unlock(session=session, actor=actor, user=user, address=address)
    except QingzhiError as exc:
        fail(exc)
    console.print(f"已解除登录限制：清除计数 {cleared} 项")


@token_app.command("create")
def token_create(
    username: str = typer.Option(..., "--username"),
    name: str = typer.Option("", "--name", help="令牌用途说明"),
    expires_days: int | None = typer.Option(
        None, "--expires-days", help="有效天数（默认与上限见 QINGZHI_TOKEN_DAYS/_MAX_DAYS）"
    ),
) -> None:
    """Issue an API token; the token is printed on the last line, once."""
    db = database()
    try:
        with db.session(write=True) as session:
            token, row = create_token(
                session=session,
                actor=system_actor("cli"),
                username=username,
                name=name,
                expires_days=expires_days,
                settings=get_settings(),
            )
    except QingzhiError as exc:
        fail(exc)
    console.print(
        f"已为 {username} 签发令牌 #{row.id}，有效至 {row.expires_at:%Y-%m-%d %H:%M} UTC"
        "（仅显示一次，请妥善保存）："
    )
    print(token)


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(...)) -> None:
    """Revoke an API token by its number."""
    db = database()
    try:
        with db.session(write=True) as session:
            revoke_token(session=session, actor=system_actor("cli"), token_id=token_id)
    except QingzhiError as exc:
        fail(exc)
    console.print(f"令牌 #{token_id} 已吊销")
