"""The process's linker: chains the events that data calls wrote to the audit inbox.

A data call on PostgreSQL writes its event to the inbox (`db._write_on_postgres`) and notes it here, which
costs an assignment. A thread of the process, started with the first such call, looks every
`LINK_AFTER_S` whether anything was noted and, if so, chains everything waiting
(`service.link_pending`): under load, hundreds of events in one turn of the chain's head, where each
call would have taken a turn of its own. It also looks every `SWEEP_EVERY_S` without being told, for
events that a process which ended left behind; the scheduler's `audit.link` job does the same where
no server runs, and every reader of the chain links first. Every `VACUUM_AFTER` events it has
chained, it vacuums the inbox (`service.vacuum_inbox`), which gathers a dead row per event.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from govshare.audit import service
from govshare.db import PerEngine

LINK_AFTER_S = 0.2
SWEEP_EVERY_S = 30.0
RETRY_AFTER_S = 5.0
VACUUM_AFTER = 20_000  # events chained by this process between its vacuums of the inbox

log = logging.getLogger(__name__)


class Linker:
    __slots__ = ("due", "engine", "linked", "lock", "stopped", "thread")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.due = False
        self.linked = 0  # events chained since the inbox was last vacuumed
        self.stopped = False
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def noted(self) -> None:
        """Something waits in the inbox: chain it soon."""
        self.due = True
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    thread = threading.Thread(target=self._run, name="govshare-audit-linker", daemon=True)
                    thread.start()
                    self.thread = thread

    def stop(self) -> None:
        """End the thread at its next look (what waits stays in the inbox, for whoever links next)."""
        self.stopped = True

    def chained(self, count: int) -> None:
        """`count` more events chained: vacuum the inbox when `VACUUM_AFTER` have been since the
        last time."""
        self.linked += count
        if self.linked >= VACUUM_AFTER:
            service.vacuum_inbox(self.engine)
            self.linked = 0

    def _run(self) -> None:
        waited = 0.0
        while not self.stopped:
            time.sleep(LINK_AFTER_S)
            waited += LINK_AFTER_S
            if not self.due and waited < SWEEP_EVERY_S:
                continue
            self.due, waited = False, 0.0
            try:
                self.chained(service.link_pending(self.engine))
            except Exception:  # the database is away: the events wait in the inbox, durable
                log.exception("chaining the audit inbox failed; trying again in %s s", RETRY_AFTER_S)
                self.due = True
                time.sleep(RETRY_AFTER_S)


_linker = PerEngine(Linker)


def noted(engine: Engine) -> None:
    """Events of a call on `engine` wait in the inbox (see the module's docstring)."""
    _linker(engine).noted()
