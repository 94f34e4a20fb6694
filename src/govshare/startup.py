"""What production mode checks before the platform serves anyone, and what `govshare serve` advises
about the host it starts on."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from sqlalchemy import Engine, func, make_url, select

from govshare.db import unit_of_work
from govshare.settings import Settings


class RefusedToStart(RuntimeError):
    pass


def production_problems(settings: Settings, engine: Engine) -> list[str]:
    """Everything that makes this configuration unsafe for production (empty when fine)."""
    from govshare.users.models import User

    problems = settings.production_problems()
    try:
        with unit_of_work(engine) as db:
            demo = db.scalar(
                select(func.count()).select_from(User).where(User.is_demo.is_(True), User.is_active.is_(True))
            )
    except Exception as exc:  # no schema yet, unreachable database, …
        problems.append(f"database not ready: {type(exc).__name__}")
    else:
        if demo:
            problems.append(f"the database holds {demo} active demo accounts (password govshare-demo)")
    return problems


def check_production(settings: Settings, engine: Engine) -> None:
    """Raise RefusedToStart in production mode when anything in `production_problems` is found."""
    if not settings.is_production:
        return
    problems = production_problems(settings, engine)
    if problems:
        raise RefusedToStart("GovShare refuses to start in production mode:\n  - " + "\n  - ".join(problems))


# Linux's automatic process grouping: 1 when the scheduler shares CPU between sessions, not processes.
AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


def host_advice(settings: Settings, autogroup: Path = AUTOGROUP) -> list[str]:
    """What about this host is known to hurt the platform (empty when nothing is): `govshare serve`
    prints it at start. It refuses nothing: these are the operator's settings, not the platform's.

    With automatic process grouping on (the default of Debian's and most distributions' kernels),
    the scheduler shares the CPU fairly between sessions first, and PostgreSQL's backends, all in
    its service's session, between themselves. On a busy machine that runs both, a backend whose
    client's next command had arrived was seen waiting 0.4 to 3 seconds for a core, and `/healthz`
    at 16 clients had p99 0.6–1.6 s in every run with grouping on, against 44 ms–0.8 s with it off
    (bench/README.md). PostgreSQL's own tuning advice is to turn grouping off on a database
    server."""
    url = make_url(settings.database)
    if url.get_backend_name() != "postgresql" or not _on_this_host(url.host):
        return []
    if not process_grouping(autogroup):
        return []
    return [
        "本机的 PostgreSQL 与平台共用处理器，而内核开启了进程自动分组（kernel.sched_autogroup_enabled=1）："
        "负载较高时数据库进程可能被推迟数百毫秒乃至数秒。建议以 root 执行 "
        "sysctl -w kernel.sched_autogroup_enabled=0，并写入 /etc/sysctl.d/ 使其重启后仍生效"
        "（见 docs/configuration.md）。"
        " (PostgreSQL runs on this host with kernel.sched_autogroup_enabled=1: under load its backends "
        "can wait up to seconds for a core; set it to 0.)"
    ]


def process_grouping(autogroup: Path = AUTOGROUP) -> bool | None:
    """Whether the kernel's automatic process grouping is on; None where the kernel has none (not
    Linux, or built without it)."""
    try:
        return {"1": True, "0": False}.get(autogroup.read_text().strip())
    except OSError:
        return None


def _on_this_host(host: str | None) -> bool:
    """Whether a database `host` of a URL is this machine: a Unix socket (no host, or a directory),
    `localhost`, or a loopback address."""
    if not host or host.startswith("/") or host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: another machine as far as we can tell without resolving it
        return False
