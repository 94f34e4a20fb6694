"""Reading and checking a batch's rows, chunk by chunk, ready for ingest to write.

Each chunk's rows are parsed (`body.records`), checked item by item (`quality.RowChecker.columns`)
and hashed (`keys.digests`): pure Python with no database, about half of ingest's time. For a large
body (`GOVSHARE_INGEST_HELPER_MIN_MB`) on a machine with more than one core, that work runs in a
helper process, which reads the spooled body by its path and sends each checked chunk through a
pipe, while this process writes the previous one: the two halves overlap. The pipe holds about one
chunk, so the helper stays at most a chunk or two ahead and memory stays flat.

The helper is a fresh interpreter running this module (`python -m govshare.exchange.reading`),
safe next to the web server's threads; chunks come back pickled through its stdout, and it is
stopped when the batch ends, however it ends. An `Invalid` it raises (a body that does not
decode, a wrong header) is raised here as it would be in-process; any other failure, or the helper's
death, fails the batch with the exit code, and the caller's transaction rolls back as usual.
"""

from __future__ import annotations

import os
import pickle  # only between this process and the helper it starts  # nosec B403
import subprocess  # starts our own helper, fixed arguments  # nosec B404
import sys
from collections.abc import Generator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from govshare.errors import Invalid
from govshare.exchange.body import BatchRequest, Mode, Spooled, records
from govshare.exchange.keys import digests, texts
from govshare.exchange.quality import ItemRule, ProviderRule, Reason, RowChecker, checks_for, rules_for

Records = list[tuple[int, dict[str, Any]]]  # (line number, raw row)


@dataclass(frozen=True)
class Plan:
    """What reading and checking a batch needs: plain data, so a helper process can receive it."""

    content_type: str
    encoding: str | None
    mode: Mode
    items: list[dict[str, Any]]
    keys: list[str]
    provider_rules: list[ProviderRule] = field(default_factory=list)
    chunk: int = 1000

    def rules(self) -> list[ItemRule]:
        """The item rules rows are checked by: every item's, or only the key's for a delete."""
        rules = rules_for(self.items, checks_for(self.provider_rules, self.items))
        return [r for r in rules if r.name in self.keys] if self.mode is Mode.delete else rules


@dataclass
class Checked:
    """One chunk, checked: its records, each rule's parsed values (`columns`, in `Plan.rules()` order),
    the reasons of the rows that broke a rule (by index), the clean rows' indexes with their keys and
    content hashes (empty for a delete), and how far into the body the chunk ended (bytes)."""

    records: Records
    columns: list[list[Any]]
    failed: dict[int, list[Reason]]
    clean: list[int]
    row_keys: list[str]
    contents: list[str]
    position: int | None
    # The keys of the rows that broke a rule of an item other than the key, by index: such a row
    # stands for a stored row (a snapshot must not retire it), and its quarantine is resolved when
    # a later batch sends that key again and it is accepted.
    failed_keys: dict[int, str] = field(default_factory=dict)


def check_chunk(
    checker: RowChecker, plan: Plan, names: list[str], chunk: Records, position: int | None
) -> Checked:
    raws = [raw for _line, raw in chunk]
    columns, failed = checker.columns(raws)
    clean = [i for i, raw in enumerate(raws) if i not in failed and "__error__" not in raw]
    every = len(clean) == len(raws)
    text = {
        name: texts(column if every else [column[i] for i in clean])
        for name, column in zip(names, columns, strict=True)
    }
    row_keys = digests([text[k] for k in plan.keys])
    contents = digests([text[n] for n in names]) if plan.mode is not Mode.delete else []
    failed_keys: dict[int, str] = {}
    keyed = [
        i
        for i, reasons in failed.items()
        if "__error__" not in raws[i] and not any(r.get("item") in plan.keys for r in reasons)
    ]
    if keyed:
        at = dict(zip(names, columns, strict=True))
        failed_keys = dict(
            zip(keyed, digests([texts([at[k][i] for i in keyed]) for k in plan.keys]), strict=True)
        )
    return Checked(chunk, columns, failed, clean, row_keys, contents, position, failed_keys)


def _in_process(req: BatchRequest, plan: Plan) -> Generator[Checked, None, None]:
    rules = plan.rules()
    checker, names = RowChecker(rules), [r.name for r in rules]
    rows = records(req, plan.items, plan.keys)
    file = req.body.file
    while chunk := list(islice(rows, plan.chunk)):
        yield check_chunk(checker, plan, names, chunk, None if file.closed else file.tell())


@dataclass(frozen=True)
class _Failure:
    """What stopped the helper: an `Invalid` to raise as such, or another error's description."""

    invalid: tuple[str, str, Any] | None
    error: str | None = None


def _helper(source: BinaryIO, sink: BinaryIO) -> None:
    """The helper process: read (path, size, plan) from `source`, then send each checked chunk of
    the body at `path` to `sink`, then None."""
    path, size, plan = pickle.load(source)  # noqa: S301  # from our parent process  # nosec B301
    try:
        with Path(path).open("rb") as file:
            req = BatchRequest(
                resource_id=0,
                body=Spooled(file, size, ""),
                content_type=plan.content_type,
                mode=plan.mode,
                encoding=plan.encoding,
            )
            for checked in _in_process(req, plan):
                pickle.dump(checked, sink, protocol=pickle.HIGHEST_PROTOCOL)
                sink.flush()
        message: _Failure | None = None
    except Invalid as exc:
        message = _Failure((exc.message, exc.message_en, exc.details))
    except Exception as exc:
        message = _Failure(None, f"{type(exc).__name__}: {exc}")
    pickle.dump(message, sink, protocol=pickle.HIGHEST_PROTOCOL)
    sink.flush()


def _in_helper(path: str, size: int, plan: Plan) -> Generator[Checked, None, None]:
    # A fresh interpreter running this module: nothing of this process (its threads, its main
    # script) is copied or re-run, unlike multiprocessing's fork and spawn.
    helper = subprocess.Popen(  # our own module, no caller input  # nosec B603
        [sys.executable, "-m", "govshare.exchange.reading"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert helper.stdin is not None and helper.stdout is not None
    try:
        pickle.dump((path, size, plan), helper.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        helper.stdin.close()
        while True:
            try:
                message = pickle.load(helper.stdout)  # noqa: S301  # our own helper's output  # nosec B301
            except EOFError:
                raise RuntimeError(
                    f"ingest helper process stopped without finishing (exit code {helper.wait(5)})"
                ) from None
            if message is None:
                return
            if isinstance(message, _Failure):
                if message.invalid is not None:
                    zh, en, details = message.invalid
                    raise Invalid(zh, en, details=details)
                raise RuntimeError(f"ingest helper process failed: {message.error}")
            yield message
    finally:
        helper.stdout.close()
        if helper.poll() is None:
            helper.kill()
        helper.wait(5)


def checked_chunks(req: BatchRequest, plan: Plan, *, helper_min_bytes: int) -> Generator[Checked, None, None]:
    """The body's chunks, checked: in a helper process when the body has a path, is at least
    `helper_min_bytes` long (0: never) and the machine has a second core; here otherwise.
    Close the iterator when done (it stops the helper)."""
    path = req.body.path
    if path and helper_min_bytes and req.body.size >= helper_min_bytes and (os.cpu_count() or 1) > 1:
        return _in_helper(path, req.body.size, plan)
    return _in_process(req, plan)


if __name__ == "__main__":
    # Through the module's own name, so that what it pickles names `govshare.exchange.reading`.
    from govshare.exchange import reading

    reading._helper(sys.stdin.buffer, sys.stdout.buffer)
