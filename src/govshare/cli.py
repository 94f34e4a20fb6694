"""`govshare`: the operator's command line. Commands call the same services as the web and API.

Commands act as the local operator (whoever can run them on the server already holds the database
and its keys); everything they change is audited under the operator's OS user name.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Actor, Role
from govshare.db import get_engine, unit_of_work
from govshare.errors import DomainError
from govshare.pagination import PageParams
from govshare.settings import get_settings

app = typer.Typer(
    help="GovShare 政务数据共享平台 operator commands.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit chain.", no_args_is_help=True)
user_app = typer.Typer(help="People and roles.", no_args_is_help=True)
system_app = typer.Typer(help="Business systems and their tokens.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
jobs_app = typer.Typer(help="Scheduled jobs.", no_args_is_help=True)
holidays_app = typer.Typer(help="The Bureau's holiday table (working-day deadlines).", no_args_is_help=True)
keys_app = typer.Typer(help="Data keys of encrypted items.", no_args_is_help=True)
protection_app = typer.Typer(help="Abuse detection (S10–S12).", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (audit_app, "audit"),
    (user_app, "user"),
    (system_app, "system"),
    (org_app, "org"),
    (jobs_app, "jobs"),
    (holidays_app, "holidays"),
    (keys_app, "keys"),
    (protection_app, "protection"),
):
    app.add_typer(sub, name=name)

console = Console()
err = Console(stderr=True)


def operator() -> Actor:
    try:
        name = getpass.getuser()
    except Exception:  # no user name in some containers
        name = str(os.getuid())
    return Actor.operator(f"cli:{name}")


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]错误：[/red]{message}")
    raise typer.Exit(code)


T = TypeVar("T")


def _run(fn: Callable[[Session], T]) -> T:
    """Run `fn(db)` in one unit of work; domain errors become a clear message and exit 1."""
    try:
        with unit_of_work() as db:
            return fn(db)
    except DomainError as exc:
        fail(f"{exc.message}（{exc.message_en}）")
        raise  # unreachable: fail() exits


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    from govshare.migrate import upgrade

    upgrade(get_engine())
    console.print("数据库结构已是最新。")


@db_app.command("current")
def db_current() -> None:
    from govshare.migrate import current_revision

    console.print(current_revision(get_engine()) or "(empty)")


@app.command()
def demo(
    rows: Annotated[
        int,
        typer.Option(min=0, help="Rows of 人口基础信息 (other entries about people scale with it; 0: none)."),
    ] = 100_000,
) -> None:
    """Create the database (if needed) and load the demo city with its data (development mode only)."""
    from govshare.demo import service as demo_service
    from govshare.migrate import upgrade

    settings = get_settings()
    if settings.is_production:
        fail("生产模式下不能加载演示数据。")
    upgrade(get_engine())
    with unit_of_work() as db:
        if demo_service.already_loaded(db):
            console.print("演示数据已存在，无需重复加载。数据目录：" + str(settings.data_dir.resolve()))
            return
    from govshare.demo.city import ORGS

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        # Organisations, the catalog, then (with rows) one step per published 库表 entry.
        from govshare.demo.data import demo_row_counts

        task = progress.add_task(
            "加载演示城市", total=len(ORGS) + 1 + (len(demo_row_counts(rows)) if rows else 0)
        )

        def step(name: str) -> None:
            progress.update(task, advance=1, description=f"加载演示城市：{name}")

        result = _run(lambda db: demo_service.load(db, progress=step, population=rows))
    tokens_path = settings.data_dir / "demo-system-tokens.json"
    demo_service.write_tokens(tokens_path, result.tokens)
    console.print(
        f"已创建 {result.orgs} 个单位、{result.people} 名人员、{result.systems} 个业务系统、"
        f"{result.resources} 条政务数据资源目录，{result.rows} 行演示数据。"
    )
    console.print("演示账号密码均为 govshare-demo（如 bureau_admin、police_admin、civil_user）。")
    console.print(f"业务系统令牌已写入 {tokens_path}（仅演示模式）。")


@app.command("trace-leak")
def trace_leak(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or xlsx")],
) -> None:
    """Name the recipient of a leaked export file (or part of one) from the row identifiers it carries."""
    from govshare.model_registry import load_models

    load_models()
    from govshare.sharing import exports

    def find(db: Session) -> tuple[list[dict[str, object]], int]:
        traces, total = exports.trace_leak(db, actor=operator(), path=file)
        return [exports.describe(db, t) for t in traces], total

    found, total = _run(find)
    if not total:
        fail("文件中没有平台导出文件的行标识（_row_id），无法追查。")
    if not found:
        fail(f"文件中的 {total} 个行标识与平台的任何一次导出都对不上。")
    best = found[0]
    console.print(
        f"该文件来自导出 #{best['export_id']}：{best['department']}，申请人 {best['requested_by'] or '—'}，"
        f"资源「{best['resource']}」，用途「{best['purpose']}」，批准于 {best['decided_at']}；"
        f"抽查 {best['looked_at']} 个行标识，{best['matched']} 个吻合。"
    )
    for other in found[1:]:
        console.print(f"另有导出 #{other['export_id']}（{other['department']}）吻合 {other['matched']} 个。")


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV, JSON or NDJSON")
    ],
    resource: Annotated[str, typer.Option(help="Resource code, e.g. 101/000001.")],
    mode: Annotated[str, typer.Option(help="upsert | snapshot | delete")] = "upsert",
    encoding: Annotated[str | None, typer.Option(help="e.g. gb18030; detected when absent")] = None,
    allow_mass_retire: Annotated[bool, typer.Option(help="Let a snapshot retire most rows.")] = False,
) -> None:
    """Load a file into a 库表 resource as one batch (quality rules, quarantine and provenance apply)."""
    from govshare.catalog.models import Resource
    from govshare.model_registry import load_models

    load_models()  # a batch refers to people, systems and organisations: their tables must be known
    from govshare.exchange.body import BatchRequest, Mode, from_file
    from govshare.exchange.ingest import ingest as run_ingest

    content_type = {
        ".json": "application/json",
        ".ndjson": "application/x-ndjson",
        ".jsonl": "application/x-ndjson",
    }
    try:
        chosen = Mode(mode)
    except ValueError:
        fail("模式应为 upsert、snapshot 或 delete。")
    with (
        file.open("rb") as handle,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        body = from_file(handle)
        task = progress.add_task(f"导入 {file.name}（字节）", total=body.size)

        def load(db: Session) -> tuple[str, int, int, int, int]:
            resource_id = db.scalar(select(Resource.id).where(Resource.code == resource))
            if resource_id is None:
                fail(f"找不到代码为 {resource} 的目录条目。")
            req = BatchRequest(
                resource_id=resource_id,
                body=body,
                content_type=content_type.get(file.suffix.lower(), "text/csv"),
                mode=chosen,
                encoding=encoding,
                source="cli",
                allow_mass_retire=allow_mass_retire,
                progress=lambda done: progress.update(task, completed=done),
            )
            batch, _ = run_ingest(
                db, actor=operator(), req=req, max_retire_ratio=get_settings().snapshot_max_retire_ratio
            )
            return batch.id, batch.rows_received, batch.accepted, batch.quarantined, batch.retired

        batch_id, received, accepted, quarantined, retired = _run(load)
    console.print(
        f"批次 {batch_id}：收到 {received} 行，入库 {accepted} 行，隔离 {quarantined} 行，失效 {retired} 行。"
    )
    if quarantined:
        console.print(f"隔离的行及原因：GET /api/v1/resources/<id>/batches/{batch_id}/quarantine")


@app.command()
def sync(
    resource: Annotated[str, typer.Option(help="Resource code, e.g. 101/000001.")],
) -> None:
    """Run the resource's front-end database sync now (from its committed watermark)."""
    from govshare.catalog.models import Resource
    from govshare.model_registry import load_models

    load_models()
    from govshare.exchange import sync as syncs

    def queue(db: Session) -> int:
        resource_id = db.scalar(select(Resource.id).where(Resource.code == resource))
        if resource_id is None:
            fail(f"找不到代码为 {resource} 的目录条目。")
        return syncs.request_run(db, actor=operator(), resource_id=resource_id, trigger="cli").id

    run_id = _run(queue)
    with Progress(
        TextColumn("{task.description}"), TextColumn("{task.completed} 行"), console=console, transient=True
    ) as progress:
        task = progress.add_task("从前置库同步", total=None)
        run = syncs.execute(unit_of_work, run_id, progress=lambda rows: progress.advance(task, rows))
    summary = f"读取 {run.rows_read} 行（{run.pages} 页），入库 {run.accepted} 行，隔离 {run.quarantined} 行"
    if run.status != "succeeded":
        fail(f"第 {run.id} 次同步失败：{run.error}；{summary}。下次同步将从最后提交的水位继续。")
    console.print(f"第 {run.id} 次同步完成：{summary}。")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (one per core); each listens on a socket of its own.")
    ] = 1,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this PEM certificate (overrides GOVSHARE_TLS_CERT).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key of --tls-cert (overrides GOVSHARE_TLS_KEY).")
    ] = None,
) -> None:
    """Serve the web UI and API (and run scheduled jobs unless GOVSHARE_RUN_JOBS=false)."""
    import uvicorn

    from govshare import serving
    from govshare.migrate import upgrade
    from govshare.startup import host_advice, production_problems
    from govshare.tls import TLSConfigError, check_tls

    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert 与 --tls-key 须同时给出（--tls-cert and --tls-key go together）。")
    if tls_cert is not None and tls_key is not None:
        # The app (in every worker process) reads its settings from the environment: it must know that
        # it is served over TLS to mark cookies Secure and send HSTS.
        os.environ["GOVSHARE_TLS_CERT"] = str(tls_cert.resolve())
        os.environ["GOVSHARE_TLS_KEY"] = str(tls_key.resolve())
        get_settings.cache_clear()
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError names the setting
        fail(f"配置有误（invalid configuration）：{exc}")
    if settings.tls_cert is not None and settings.tls_key is not None:
        try:
            check_tls(settings.tls_cert, settings.tls_key)
        except TLSConfigError as exc:
            fail(f"无法启用 TLS（cannot serve TLS）：{exc}")
    if settings.is_production:
        problems = production_problems(settings, get_engine())
        if problems:
            fail("生产模式拒绝启动（production mode refuses to start）：\n  - " + "\n  - ".join(problems))
    else:
        upgrade(get_engine())
    for advice in host_advice(settings):
        console.print(f"提示：{advice}", style="yellow", markup=False, soft_wrap=True)
    scheme = "https" if settings.tls_enabled else "http"
    options: dict[str, Any] = {
        "app": "govshare.web.app:create_app",
        "factory": True,
        "host": host,
        "port": port,
        "proxy_headers": False,
        "log_level": "info",
        "ssl_certfile": str(settings.tls_cert) if settings.tls_cert else None,
        "ssl_keyfile": str(settings.tls_key) if settings.tls_key else None,
    }
    if workers > 1 and serving.supported():
        # The parent accepts and deals each connection to the worker with the fewest (govshare.serving).
        try:
            reserved = serving.bound_socket(host, port)
        except OSError as exc:
            fail(f"无法监听 {host}:{port}（cannot listen）：{exc}。请换一个端口，或先停止占用该端口的程序。")
        console.print(
            f"GovShare 正在 {scheme}://{host}:{port} 提供服务（{settings.env.value}，{workers} 个工作进程）"
        )
        if not serving.Workers(options, workers, reserved).run():
            fail("工作进程无法启动，服务已停止；原因见上方日志（a worker could not start）。")
        return
    console.print(f"GovShare 正在 {scheme}://{host}:{port} 提供服务（{settings.env.value}）")
    uvicorn.run(**options, workers=workers)


@app.command()
def worker() -> None:
    """Run scheduled jobs in the foreground (for deployments that keep jobs out of web processes)."""
    import time

    from govshare.jobs import Scheduler

    scheduler = Scheduler(get_engine())
    console.print("作业进程已启动，按 Ctrl+C 退出。")
    try:
        while True:
            for name in scheduler.run_due():
                console.print(f"已运行作业 {name}")
            time.sleep(scheduler.tick)
    except KeyboardInterrupt:
        pass


@audit_app.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the audit chain and checkpoint signatures; exit 2 when it is broken."""
    from govshare.audit.models import AuditHead
    from govshare.audit.service import link_pending, verify_chain

    with unit_of_work() as db:
        link_pending(db)
        head = db.get(AuditHead, 1)
        total = head.last_seq if head else 0
        with Progress(
            TextColumn("校验审计链"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
            disable=as_json,
        ) as progress:
            task = progress.add_task("verify", total=total)
            report = verify_chain(db, progress=lambda n: progress.update(task, completed=n))
    if as_json:
        console.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
    elif report.ok:
        console.print(
            f"[green]审计链完整[/green]：{report.events} 条事件，"
            f"{report.checkpoints_verified} 个签名检查点已验证。"
            + (f"另有 {report.pending} 条事件已记录、待入链。" if report.pending else "")
        )
    else:
        console.print(f"[red]审计链被破坏[/red]：共 {len(report.problems)} 处问题。")
        for p in report.problems[:20]:
            console.print(f"  #{p.seq} {p.kind}: {p.message}")
    if not report.ok:
        raise typer.Exit(2)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the current end of the chain now."""
    from govshare.audit.service import checkpoint_now

    checkpoint = _run(checkpoint_now)
    console.print(f"已签名检查点 #{checkpoint.seq}" if checkpoint else "没有新的事件需要签名。")


@protection_app.command("scan")
def protection_scan() -> None:
    """Evaluate the audit events written since the last scan and raise alerts (as the job does)."""
    from govshare.protection.detection import scan

    console.print(_run(lambda db: scan(db).text()))


@org_app.command("list")
def org_list() -> None:
    from govshare.orgs.service import list_orgs

    rows, _ = _run(lambda db: list_orgs(db, actor=operator(), params=PageParams(page=1, page_size=200)))
    table = Table("ID", "编码", "名称", "类型", "统一社会信用代码")
    for org in rows:
        table.add_row(
            str(org.id),
            org.code,
            org.name,
            org.kind_label,
            org.credit_code + ("" if org.credit_code_checked else " ⚠"),
        )
    console.print(table)


@org_app.command("create")
def org_create(code: str, name: str, short_name: str, kind: str, credit_code: str) -> None:
    """Register an organisation (kind: bureau, department, district, enterprise)."""
    from govshare.orgs.models import OrgKind
    from govshare.orgs.schemas import OrgCreate
    from govshare.orgs.service import create_org

    data = OrgCreate(code=code, name=name, short_name=short_name, kind=OrgKind(kind), credit_code=credit_code)
    org = _run(lambda db: create_org(db, actor=operator(), data=data))
    console.print(f"已创建单位 #{org.id} {org.name}")


def _org_id(db, code: str) -> int:  # type: ignore[no-untyped-def]
    from govshare.orgs.models import Organisation

    org_id = db.scalar(select(Organisation.id).where(Organisation.code == code))
    if org_id is None:
        fail(f"找不到编码为 {code} 的单位。")
    return int(org_id)


def _user_id(db, username: str) -> int:  # type: ignore[no-untyped-def]
    from govshare.users.service import find_by_username

    user = find_by_username(db, username)
    if user is None:
        fail(f"找不到用户 {username}。")
    return user.id


def _password(prompt: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("再次输入：") != first:
        fail("两次输入的密码不一致。")
    return first


@user_app.command("create")
def user_create(
    username: str,
    display_name: str,
    org: Annotated[str, typer.Option(help="Organisation code, e.g. police.")],
    role: Annotated[list[Role] | None, typer.Option(help="Role (repeatable).")] = None,
) -> None:
    """Create a person; the password is read from the terminal (or one line of standard input)."""
    from govshare.users.schemas import UserCreate
    from govshare.users.service import create_user

    password = _password("初始密码：")

    def go(db):  # type: ignore[no-untyped-def]
        data = UserCreate(
            username=username,
            display_name=display_name,
            org_id=_org_id(db, org),
            password=password,
            roles=role or [],
        )
        return create_user(db, actor=operator(), data=data)

    user = _run(go)
    console.print(f"已创建人员 #{user.id} {user.username}，角色：{', '.join(user.role_names) or '无'}")


@user_app.command("list")
def user_list(org: Annotated[str | None, typer.Option(help="Organisation code.")] = None) -> None:
    from govshare.users.service import list_users

    def go(db):  # type: ignore[no-untyped-def]
        return list_users(
            db,
            actor=operator(),
            params=PageParams(page=1, page_size=200),
            org_id=_org_id(db, org) if org else None,
        )[0]

    table = Table("ID", "用户名", "姓名", "单位", "角色", "状态")
    for user in _run(go):
        table.add_row(
            str(user.id),
            user.username,
            user.display_name,
            str(user.org_id),
            ", ".join(Role(r).label for r in user.role_names),
            "在岗" if user.is_active else "已停用",
        )
    console.print(table)


@user_app.command("reset-password")
def user_reset_password(username: str) -> None:
    """Set a new password (read from the terminal or standard input) and unlock the account."""
    from govshare.users.service import reset_password

    password = _password("新密码：")
    _run(lambda db: reset_password(db, actor=operator(), user_id=_user_id(db, username), new=password))
    console.print(f"已重置 {username} 的密码。")


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    from govshare.users.service import unlock_user

    _run(lambda db: unlock_user(db, actor=operator(), user_id=_user_id(db, username)))
    console.print(f"已解锁 {username}。")


@user_app.command("grant-role")
def user_grant_role(username: str, role: Role) -> None:
    from govshare.users.service import grant_role

    def go(db):  # type: ignore[no-untyped-def]
        from govshare.users.models import User

        user = db.get(User, _user_id(db, username))
        grant_role(db, actor=operator(), user=user, role=role)

    _run(go)
    console.print(f"已授予 {username} 角色 {role.label}。")


@user_app.command("revoke-role")
def user_revoke_role(username: str, role: Role) -> None:
    from govshare.users.service import revoke_role

    def go(db):  # type: ignore[no-untyped-def]
        from govshare.users.models import User

        return revoke_role(
            db, actor=operator(), user=db.get(User, _user_id(db, username)), role=role, reason="运维命令"
        )

    console.print(f"已收回 {username} 的角色 {role.label}。" if _run(go) else f"{username} 没有该角色。")


@user_app.command("offboard")
def user_offboard(
    username: str,
    successor: Annotated[str, typer.Option(help="Username of the successor.")],
    reason: Annotated[str, typer.Option(help="Reason, e.g. 调离.")],
) -> None:
    """Deactivate a person now, hand over their work and print the offboarding record."""
    from govshare.users.offboarding import offboard

    record = _run(
        lambda db: offboard(
            db,
            actor=operator(),
            user_id=_user_id(db, username),
            successor_id=_user_id(db, successor),
            reason=reason,
        )
    )
    console.print(f"已办理离任，记录 #{record.id}：")
    console.print_json(record.report)


@system_app.command("list")
def system_list() -> None:
    from govshare.systems.service import list_systems

    rows, _ = _run(lambda db: list_systems(db, actor=operator(), params=PageParams(page=1, page_size=200)))
    table = Table("ID", "编码", "名称", "单位", "允许地址", "状态")
    for s in rows:
        table.add_row(
            str(s.id),
            s.code,
            s.name,
            str(s.org_id),
            ", ".join(s.allowed_cidrs),
            "启用" if s.is_active else "停用",
        )
    console.print(table)


@system_app.command("create")
def system_create(
    code: str,
    name: str,
    org: Annotated[str, typer.Option(help="Organisation code.")],
    cidr: Annotated[list[str], typer.Option(help="Allowed source CIDR (repeatable).")],
) -> None:
    """Register a business system and print its first token (shown once)."""
    from govshare.systems.schemas import SystemCreate
    from govshare.systems.service import create_system

    def go(db):  # type: ignore[no-untyped-def]
        return create_system(
            db,
            actor=operator(),
            data=SystemCreate(org_id=_org_id(db, org), code=code, name=name, allowed_cidrs=cidr),
        )

    try:
        system, token, _row = _run(go)
    except ValueError as exc:
        fail(str(exc))
    console.print(f"已登记业务系统 #{system.id}。令牌（只显示这一次）：\n{token}")


@system_app.command("rotate-token")
def system_rotate_token(
    code: str, keep_old: Annotated[bool, typer.Option(help="Keep other tokens.")] = False
) -> None:
    """Issue a new token (shown once); other tokens are revoked unless --keep-old."""
    from govshare.systems.models import BusinessSystem
    from govshare.systems.service import issue_token

    def go(db):  # type: ignore[no-untyped-def]
        system = db.scalar(select(BusinessSystem).where(BusinessSystem.code == code))
        if system is None:
            fail(f"找不到业务系统 {code}。")
        return issue_token(db, actor=operator(), system=system, revoke_existing=not keep_old)

    token, row = _run(go)
    console.print(f"新令牌（只显示这一次，有效期至 {row.expires_at:%Y-%m-%d}）：\n{token}")


@jobs_app.command("run")
def jobs_run(name: str) -> None:
    """Run a scheduled job now."""
    from govshare.jobs import JOBS, load_jobs, run_job

    load_jobs()
    if name not in JOBS:
        fail(f"没有名为 {name} 的作业。可用：{', '.join(sorted(JOBS))}")
    run = run_job(get_engine(), name)
    console.print(f"{name}: {run.status} {run.detail or ''}")
    if run.status != "ok":
        raise typer.Exit(1)


@jobs_app.command("list")
def jobs_list() -> None:
    from govshare.jobs import JOBS, last_runs, load_jobs

    load_jobs()
    table = Table("作业", "最近运行", "结果", "说明")
    with unit_of_work() as db:
        runs = {r.name: r for r in reversed(last_runs(db, limit=200))}
    for name in sorted(JOBS):
        run = runs.get(name)
        table.add_row(
            name,
            f"{run.started_at:%Y-%m-%d %H:%M}" if run else "—",
            run.status if run else "—",
            (run.detail or "") if run else "",
        )
    console.print(table)


@holidays_app.command("load")
def holidays_load(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV: 日期,类型(放假/上班),名称"),
    ],
    year: Annotated[int, typer.Option(help="The year the file schedules, e.g. 2027.")],
    source: Annotated[str, typer.Option(help="The State Council notice, e.g. 国办发明电〔2026〕7号.")],
) -> None:
    """Load (or replace) a year's holidays and make-up workdays; provisional deadlines are recomputed."""
    from govshare.calendar import service
    from govshare.calendar.upload import parse_csv
    from govshare.model_registry import load_models

    load_models()
    console.print(f"读取 {file.name} …")

    def load(db: Session) -> service.Loaded:
        days = parse_csv(file.read_bytes())
        return service.load_schedule(db, actor=operator(), year=year, source=source, days=days)

    loaded = _run(load)
    info = loaded.info
    console.print(
        f"已加载 {year} 年节假日安排（{info.notice}）：放假 {info.holidays} 天，调休上班 {info.workdays} 天；"
        f"与此前相比变化 {len(loaded.changes)} 天，重新计算期限 {loaded.recomputed} 个。"
    )


@holidays_app.command("show")
def holidays_show(year: int) -> None:
    """Print a year's holidays and make-up workdays and which source decides them."""
    from govshare.calendar import service
    from govshare.model_registry import load_models

    load_models()
    info = _run(lambda db: service.get_year(db, actor=operator(), year=year))
    if info.provisional:
        console.print(f"[yellow]{year} 年的国务院节假日安排尚未加载：只按周末和固定日期节日暂定。[/yellow]")
        console.print(f'加载：govshare holidays load FILE.csv --year {year} --source "国办发明电〔…〕…号"')
    else:
        console.print(f"{year} 年：{info.source.label}" + (f"（{info.notice}）" if info.notice else ""))
    table = Table("日期", "星期", "类型", "名称")
    for day in info.days:
        table.add_row(day.day.isoformat(), "一二三四五六日"[day.day.weekday()], day.kind.label, day.name)
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(
    resource: Annotated[str, typer.Option(help="The resource's catalog code, e.g. 101/000001.")],
) -> None:
    """Rotate a resource's data key now: new key, every encrypted cell rewritten, old keys erased."""
    from govshare.catalog.models import Resource
    from govshare.encryption import service
    from govshare.model_registry import load_models

    load_models()

    def rotate(db: Session) -> service.Rotated:
        found = db.scalar(select(Resource).where(Resource.code == resource))
        if found is None:
            fail(f"找不到目录代码为 {resource} 的资源。")
        return service.rotate_resource(db, found, actor=operator())

    done = _run(rotate)
    console.print(
        f"已轮换数据密钥：第 {done.version} 版，重新加密 {done.cells} 个单元格，"
        f"销毁旧密钥 {done.retired} 个。"
    )


def _bytes_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} 行"),
        console=console,
        transient=True,
    )


@app.command()
def backup(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (replaced atomically).")],
    scope: Annotated[str, typer.Option(help="full (database, store and files) or database.")] = "full",
) -> None:
    """Back up the platform database, the exchange store and the data dir's files into one encrypted,
    signed file (consistent while the platform runs)."""
    from govshare.backup import service
    from govshare.backup.archive import BackupError
    from govshare.backup.core import SCOPES

    if scope not in SCOPES:
        fail("备份范围应为 full（数据库、交换库和文件）或 database（仅数据库和交换库）。")
    engine = get_engine()
    with _bytes_progress() as progress:
        task = progress.add_task("备份", total=None)

        def step(name: str, rows: int) -> None:
            progress.update(task, description=f"备份 {name}", advance=rows)

        try:
            run = service.run_backup(
                engine, kind="cli", actor=operator(), scope=scope, out=out, progress=step
            )
        except BackupError as exc:
            fail(exc.message)
        except Exception as exc:  # recorded as a failed run by run_backup
            fail(f"备份失败：{type(exc).__name__}: {exc}")
    size = (run.size_bytes or 0) / 1048576
    console.print(
        f"备份完成：{out}（{size:.1f} MB，{run.tables} 张表 {run.rows} 行，{run.files} 个文件，"
        f"SM3 {run.sm3}）"
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A backup file written by `govshare backup`.")],
    public_key: Annotated[
        str | None,
        typer.Option(
            help="SM2 public key (hex) the manifest must be signed with, if not the configured one."
        ),
    ] = None,
) -> None:
    """Restore a backup into an empty data dir and database (GOVSHARE_DATA_DIR, GOVSHARE_DATABASE_URL).
    The whole file is verified first; a damaged or tampered backup restores nothing."""
    from govshare.backup import core, service
    from govshare.backup.archive import BackupError

    settings = get_settings()
    with _bytes_progress() as progress:
        task = progress.add_task("校验备份文件（解密并核对清单和签名）", total=None)

        def step(name: str, rows: int) -> None:
            progress.update(task, description=f"恢复 {name}", advance=rows)

        try:
            result = core.restore(file, settings, public_key=public_key, progress=step)
        except BackupError as exc:
            fail(exc.message)
    service.record_restore(get_engine(), result, operator())
    header = result.verified.header
    console.print(
        f"恢复完成：{result.tables} 张表 {result.rows} 行，{result.files} 个文件"
        f"（备份于 {header.get('created_at')}，来源 {header.get('dialect')}）。"
        f"数据目录：{settings.data_dir.resolve()}"
    )


@app.command("restore-drill")
def restore_drill(
    file: Annotated[
        Path | None, typer.Argument(help="The backup to drill; default: the latest kept backup.")
    ] = None,
) -> None:
    """Restore a backup into a scratch database and directory, compare every table's count and
    checksum and every file with the manifest, and record the result."""
    from govshare.backup import service
    from govshare.backup.archive import BackupError

    with _bytes_progress() as progress:
        task = progress.add_task("恢复演练", total=None)

        def step(name: str, rows: int) -> None:
            progress.update(task, description=f"演练 {name}", advance=rows)

        try:
            run = service.run_drill(get_engine(), actor=operator(), path=file, progress=step)
        except (BackupError, DomainError) as exc:
            fail(exc.message)
    if run.status != "succeeded":
        fail(f"恢复演练发现不一致：\n{run.detail}")
    console.print(
        f"恢复演练通过：{run.tables} 张表 {run.rows} 行、{run.files} 个文件与清单一致（{run.seconds} 秒）。"
    )


def main() -> None:
    app()
