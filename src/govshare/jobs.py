"""Scheduled jobs with database leases, run inside `govshare serve` or `govshare worker`.

A job runs when its lease has expired: taking the lease is one conditional UPDATE, so among
several platform instances exactly one runs each due job. Every run is recorded in `job_runs`.
Domains register their jobs in their `jobs.py` with `@job(name, every=...)`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from govshare.db import Base, unit_of_work, utcnow

log = logging.getLogger("govshare.jobs")


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # ok | failed
    detail: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Job:
    name: str
    every: Callable[[], timedelta]
    run: Callable[[Session], str]


JOBS: dict[str, Job] = {}


def job(
    name: str, *, every: Callable[[], timedelta]
) -> Callable[[Callable[[Session], str]], Callable[[Session], str]]:
    """Register `func(db) -> summary` to run every `every()` (read at each scheduling round)."""

    def register(func: Callable[[Session], str]) -> Callable[[Session], str]:
        JOBS[name] = Job(name, every, func)
        return func

    return register


def load_jobs() -> None:
    from govshare.audit import jobs as _audit_jobs  # noqa: F401
    from govshare.backup import jobs as _backup_jobs  # noqa: F401
    from govshare.calendar import jobs as _calendar_jobs  # noqa: F401
    from govshare.encryption import jobs as _encryption_jobs  # noqa: F401
    from govshare.exchange import jobs as _exchange_jobs  # noqa: F401
    from govshare.opendata import jobs as _opendata_jobs  # noqa: F401
    from govshare.policies import jobs as _policies_jobs  # noqa: F401
    from govshare.protection import jobs as _protection_jobs  # noqa: F401
    from govshare.rectification import jobs as _rectification_jobs  # noqa: F401
    from govshare.sharing import jobs as _sharing_jobs  # noqa: F401
    from govshare.supervision import jobs as _supervision_jobs  # noqa: F401


HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def try_lease(engine: Engine, name: str, every: timedelta, *, force: bool = False) -> bool:
    """Take the lease of job `name` if it is due (or `force`); True when this process got it."""
    now = utcnow()
    with unit_of_work(engine) as db:
        if db.get(JobLease, name) is None:
            try:
                with db.begin_nested():
                    db.add(JobLease(name=name, holder=None, expires_at=now - timedelta(seconds=1)))
            except IntegrityError:
                pass
        stmt = update(JobLease).where(JobLease.name == name)
        if not force:
            stmt = stmt.where(JobLease.expires_at <= now)
        result = db.execute(stmt.values(holder=HOLDER, expires_at=now + every))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def run_job(engine: Engine, name: str) -> JobRun:
    """Run one job now in its own unit of work and record the run (failures too)."""
    load_jobs()
    found = JOBS[name]
    started = utcnow()
    status, detail = "ok", ""
    try:
        with unit_of_work(engine) as db:
            detail = found.run(db)
    except Exception as exc:
        log.exception("job %s failed", name)
        status, detail = "failed", f"{type(exc).__name__}: {exc}"
    with unit_of_work(engine) as db:
        run = JobRun(
            name=name,
            holder=HOLDER,
            started_at=started,
            finished_at=utcnow(),
            status=status,
            detail=detail[:4000],
        )
        db.add(run)
    return run


def last_runs(db: Session, limit: int = 20) -> list[JobRun]:
    return list(db.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))


class Scheduler:
    """A daemon thread that runs due jobs; `stop()` waits for the current job to finish."""

    def __init__(self, engine: Engine, *, tick_seconds: float = 15.0) -> None:
        load_jobs()
        self.engine = engine
        self.tick = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="govshare-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_due(self) -> list[str]:
        ran = []
        for found in list(JOBS.values()):
            if self._stop.is_set():
                break
            if try_lease(self.engine, found.name, found.every()):
                run_job(self.engine, found.name)
                ran.append(found.name)
        return ran

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_due()
            except Exception:  # a database hiccup must not kill the scheduler
                log.exception("scheduler round failed")
