"""The ``qingzhi`` command line; thin: every command calls the same services as the HTTP API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.table import Table

from qingzhi.audit import checkpoints, signing
from qingzhi.audit import service as audit
from qingzhi.audit.signing import SigningKeyError, key_id
from qingzhi.auth import accounts
from qingzhi.auth.context import system_actor
from qingzhi.cli.accounts import token_app, user_app
from qingzhi.cli.basemap import basemap_app
from qingzhi.cli.briefs import brief_app, scheduler  # briefs
from qingzhi.cli.cad import import_app  # county: CAD import (issue 16)
from qingzhi.cli.cases import case_app  # cases (快侦快办)
from qingzhi.cli.common import console, err
from qingzhi.cli.common import database as _database
from qingzhi.cli.common import fail as _fail
from qingzhi.cli.community import community_app  # community (两队一室)
from qingzhi.cli.demo import demo_app, print_demo_accounts
from qingzhi.cli.duty import duty_app
from qingzhi.cli.hotspot import hotspot_app
from qingzhi.cli.kpi import kpi_app
from qingzhi.cli.place import place_app  # county: place setup (issue 16)
from qingzhi.cli.plan import plan_app  # planning (plans domain)
from qingzhi.cli.tasks import task_app  # tasks (督办)
from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError
from qingzhi.org import exchange
from qingzhi.org import service as org
from qingzhi.runtime import tune_gc
from qingzhi.store.db import migrate

log = logging.getLogger(__name__)

app = typer.Typer(help="qingzhi 情指：县级公安情报指挥平台", no_args_is_help=True)
db_app = typer.Typer(help="数据库", no_args_is_help=True)
org_app = typer.Typer(help="组织机构", no_args_is_help=True)
audit_app = typer.Typer(help="审计", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (user_app, "user"),
    (token_app, "token"),
    (org_app, "org"),
    (audit_app, "audit"),
    (demo_app, "demo"),
    (import_app, "import"),
):
    app.add_typer(sub, name=name)
app.add_typer(hotspot_app, name="hotspot")
app.add_typer(kpi_app, name="kpi")
app.add_typer(plan_app, name="plan")  # planning (plans domain)
app.add_typer(task_app, name="task")  # tasks (督办)
app.add_typer(case_app, name="case")  # cases (快侦快办)
app.add_typer(basemap_app, name="basemap")  # basemap (issue 15)
app.add_typer(place_app, name="place")  # county (issue 16)
app.add_typer(community_app, name="community")  # community (两队一室)
# briefs
app.add_typer(brief_app, name="brief")
app.command("scheduler", help="研判简报调度进程（日研判、周会商、月调度）")(scheduler)
app.add_typer(duty_app, name="duty")  # duty rosters (w15-demo)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="详细日志")) -> None:
    """qingzhi command line."""
    tune_gc()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema."""
    url = get_settings().database_url
    migrate(url, revision)
    console.print(f"数据库已迁移到 {revision}：{url.split('@')[-1]}")


def _check_demo_passwords(allow: bool) -> None:
    """Refuse to serve while active accounts still have the demo password. Allowed (the demo):
    warn loudly, naming the accounts not known to be free of it, without checking them (one
    argon2 check each would delay every start)."""
    from sqlalchemy.exc import SQLAlchemyError

    from qingzhi.demo.loader import DEMO_PASSWORD

    db = _database()
    try:
        if allow:
            names = accounts.unvetted(db=db)
        else:
            names = accounts.accounts_using(db=db, password=DEMO_PASSWORD)
    except SQLAlchemyError as exc:
        err.print(f"[red]错误[/red]：无法读取账号（数据库是否已迁移？qingzhi db upgrade）：{exc}")
        raise typer.Exit(code=2) from None
    finally:
        db.dispose()
    if not names:
        return
    listed = "、".join(names)
    if not allow:
        err.print(
            f"[red]拒绝启动[/red]：以下账号仍使用公开的演示密码：{listed}。"
            "请用 qingzhi user set-password 修改或 qingzhi user disable 停用；"
            "仅在本机演示时可加 --allow-demo-passwords 启动。"
        )
        raise typer.Exit(code=2)
    err.print(
        f"[bold red]警告：以下账号可能使用公开的演示密码，任何人都能登录：{listed}。"
        "此实例仅可用于演示，切勿接入公安网络。[/bold red]"
    )


_ALLOW_DEMO = typer.Option(
    False, "--allow-demo-passwords", help="允许仍使用演示密码的账号（仅限演示）"
)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers"),
    allow_demo_passwords: bool = _ALLOW_DEMO,
) -> None:
    """Serve the web application (refused while accounts have the demo password)."""
    import uvicorn

    _check_demo_passwords(allow_demo_passwords)
    console.print(f"情指平台已启动：http://{host}:{port}/")
    uvicorn.run(
        "qingzhi.web.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
        timeout_graceful_shutdown=3,  # live streams never end by themselves
    )


@org_app.command("import")
def org_import(bundle: Path = typer.Argument(..., exists=True)) -> None:
    """Import the organisation from a folder or zip (bureau.json, units/zones GeoJSON, CSV)."""
    db = _database()
    try:
        parsed = exchange.parse_bundle(exchange.read_bundle(bundle))
        with db.session(write=True) as session:
            report = exchange.import_bundle(
                session=session, actor=system_actor("cli"), bundle=parsed
            )
    except QingzhiError as exc:
        _fail(exc)
    console.print(
        f"导入完成：新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}"
    )


@org_app.command("export")
def org_export(target: Path = typer.Argument(..., help="目标文件夹，或以 .zip 结尾的文件")) -> None:
    """Export the organisation (GeoJSON + CSV) to a folder or zip."""
    db = _database()
    with db.session() as session:
        files = exchange.export_bundle(session=session, actor=system_actor("cli"))
    exchange.write_bundle(files, target)
    console.print(f"已导出到 {target}")


@audit_app.command("verify")
def audit_verify(
    checkpoint_file: Path | None = typer.Option(
        None, "--checkpoints", help="签名检查点文件（如 var/audit-checkpoints.log 或其异地副本）"
    ),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="核验检查点的公钥（默认 QINGZHI_AUDIT_PUBLIC_KEY）"
    ),
) -> None:
    """Recompute the audit hash chain; exit 1 naming the first bad record. With --checkpoints,
    also check every signed checkpoint and that the chain still contains each (exit 1 on a
    truncation, a rewrite or a forged checkpoint)."""
    if checkpoint_file is None:
        db = _database()
        with db.session() as session:
            result = audit.verify(session=session)
        if result.ok:
            console.print(
                f"审计链完整：共 {result.checked} 条记录（未核对签名检查点：--checkpoints）"
            )
            return
        err.print(
            f"[red]审计链校验失败[/red]：第一条异常记录 seq={result.first_bad_seq}：{result.reason}"
        )
        sys.exit(1)
    try:
        key = checkpoints.public_key_of(get_settings(), public_key)
    except QingzhiError as exc:
        _fail(exc)
    try:
        signed = checkpoints.load(checkpoint_file, key)
    except QingzhiError as exc:
        err.print(f"[red]审计检查点校验失败[/red]：{exc.message}", soft_wrap=True)
        sys.exit(1)
    db = _database()
    with db.session() as session:
        trail = checkpoints.check(session=session, checkpoints=signed)
    if not trail.ok:
        err.print(
            f"[red]审计链校验失败[/red]：第一条异常记录 seq={trail.first_bad_seq}：{trail.reason}",
            soft_wrap=True,
        )
        sys.exit(1)
    latest = signed[-1].checkpoint
    console.print(
        f"审计链完整：共 {trail.records} 条记录，与 {len(signed)} 个签名检查点一致"
        f"（公钥 {key_id(key)}，来源 {latest.origin}；最新检查点 seq {latest.seq}，"
        f"{latest.time}；其后 {trail.unattested} 条记录尚无检查点）",
        soft_wrap=True,
    )


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain's head into the checkpoint file now if it moved (for cron); exit 1 if the
    chain no longer extends the file's last checkpoint."""
    settings = get_settings()
    try:
        key = checkpoints.signing_key(settings)
        if key is None:
            raise SigningKeyError("未配置审计签名私钥（QINGZHI_AUDIT_SIGNING_KEY）")
        outcome = checkpoints.make(db=_database(), key=key, settings=settings)
    except QingzhiError as exc:
        _fail(exc)
    cp = outcome.checkpoint
    if outcome.status == "refused":
        err.print(f"[red]拒绝签署检查点[/red]：{outcome.reason}", soft_wrap=True)
        sys.exit(1)
    if outcome.status == "made" and cp is not None:
        console.print(
            f"已写入检查点：seq {cp.seq}，{cp.time}，来源 {cp.origin}，"
            f"文件 {settings.audit_checkpoint_file}",
            soft_wrap=True,
        )
    elif outcome.status == "unchanged":
        console.print(f"链头未变（seq {outcome.head_seq}），已有其检查点")
    elif outcome.head_seq == 0:
        console.print("审计链为空，无需检查点")
    else:
        console.print(f"未写入检查点：{outcome.reason or '暂不需要'}")


@audit_app.command("keygen")
def audit_keygen(
    out: Path = typer.Option(..., "--out", help="私钥文件（权限 0600；已存在则拒绝覆盖）"),
    public_out: Path | None = typer.Option(None, "--public-out", help="公钥文件（默认 OUT.pub）"),
) -> None:
    """Make an Ed25519 key pair for signing audit checkpoints; print the public key."""
    public_path = public_out or out.with_name(out.name + ".pub")
    try:
        public = signing.generate(out, public_path)
    except QingzhiError as exc:
        _fail(exc)
    console.print(f"已生成审计签名密钥 {key_id(public)}：私钥 {out}，公钥 {public_path}")
    console.print(
        "请设置 QINGZHI_AUDIT_SIGNING_KEY 指向私钥；公钥另存一份到本机之外，用于 audit verify。"
    )
    print(signing.public_pem(public).decode(), end="")


@app.command("units")
def units() -> None:
    """List units with officers per 10,000 residents."""
    db = _database()
    with db.session() as session:
        summary = org.summary(session=session, actor=system_actor("cli"))
    table = Table("代码", "名称", "人口", "民警", "辅警", "万人比")
    for u in summary.units:
        table.add_row(
            u.code,
            u.name,
            str(u.population or ""),
            str(u.sworn),
            str(u.auxiliary),
            str(u.officers_per_10k or ""),
        )
    console.print(table)
    b = summary.bureau
    console.print(f"{b.name}：民警 {b.sworn}，辅警 {b.auxiliary}，警力万人比 {b.officers_per_10k}")


@demo_app.command("serve")
def demo_serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    allow_demo_passwords: bool = _ALLOW_DEMO,
) -> None:
    """Print the demo accounts, then serve the web application (the demo accounts' shared
    password needs --allow-demo-passwords)."""
    print_demo_accounts()
    serve(host=host, port=port, workers=1, allow_demo_passwords=allow_demo_passwords)
