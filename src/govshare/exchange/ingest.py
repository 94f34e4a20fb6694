"""Push ingest: a department's business system (or its data administrator) delivers a batch of rows.

A batch is applied entirely or not at all: it runs in the caller's unit of work, with its manifest,
its quarantined rows and its audit event. The body (`body.py`: spooled to disk while its SM3 is
computed) is read and applied in chunks, so memory stays flat in the number of rows.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role
from govshare.catalog.models import Resource, ResourceVersion
from govshare.db import utcnow
from govshare.encryption import cells
from govshare.errors import Conflict, Invalid
from govshare.exchange import store
from govshare.exchange.access import provision_resource
from govshare.exchange.body import BatchRequest, Format, Mode
from govshare.exchange.discovery import SAMPLE_ROWS, discover
from govshare.exchange.models import Batch, QualityRule, QuarantinedRow
from govshare.exchange.quality import ItemRule, ProviderRule, checks_for, rules_for
from govshare.exchange.reading import Checked, Plan, checked_chunks
from govshare.exchange.rules import unique_items
from govshare.orgs import service as orgs
from govshare.settings import Settings, get_settings
from govshare.tasks import service as tasks
from govshare.tasks.models import Task

log = logging.getLogger(__name__)

CHUNK = 1000
# --- applying ------------------------------------------------------------------------------------


@dataclass
class _Counts:
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    not_found: int = 0


Bad = list[tuple[int, dict[str, Any], list[dict[str, str]]]]
# A row that passed the per-value rules, by key: (line, raw row, its index in the chunk's values, SM3 of
# its content).
Good = dict[str, tuple[int, dict[str, Any], int, str]]
# A reason may carry a "summary": the label it is counted under in the batch report, when its own text
# names a line (one label per line would bury the report's other reasons). It is not stored.
SUMMARY = "summary"


@dataclass(frozen=True)
class _Unique:
    name: str
    title: str
    message: str | None


class _Applier:
    def __init__(
        self,
        db: Session,
        table: Table,
        batch: Batch,
        rules: list[ItemRule],
        keys: list[str],
        mode: Mode,
        unique: dict[str, str | None] | None = None,
        *,
        fresh: bool = False,
    ) -> None:
        """`rules`: every item's (`Plan.rules()` narrows them to the key for a delete)."""
        self.db, self.table, self.batch, self.mode = db, table, batch, mode
        self.checked_names = [r.name for r in rules if r.name in keys] if mode is Mode.delete else None
        self.keys = keys
        self.names = [r.name for r in rules]
        self.values: dict[str, list[Any]] = {}  # the current chunk's parsed values, by item
        titles = {r.name: r.title for r in rules}
        self.unique = (
            []
            if mode is Mode.delete
            else [_Unique(n, titles[n], m) for n, m in (unique or {}).items() if n in titles]
        )
        # The table held no row when the batch began: a chunk's rows are inserted without first
        # looking for their keys, and only a key clash (an earlier chunk's row) sends it the long way.
        self.fresh = fresh and mode is not Mode.delete
        self.counts = _Counts()
        self.reasons: dict[str, int] = {}
        self.bad_keys: dict[int, str] = {}  # line -> business key of a quarantined row that has one
        # Whether earlier batches left quarantined rows open that a row of this one may resolve.
        self.open_quarantine = mode is not Mode.delete and bool(
            db.scalar(
                select(QuarantinedRow.id)
                .where(
                    QuarantinedRow.resource_id == batch.resource_id,
                    QuarantinedRow.status == "open",
                    QuarantinedRow.row_key.is_not(None),
                )
                .limit(1)
            )
        )
        self.samples: list[dict[str, Any]] = []  # accepted rows for sensitive-data discovery
        self.now = utcnow()
        self.provenance = {  # the same for every row the batch writes
            "_batch_id": batch.id,
            "_system_id": batch.system_id,
            "_received_at": self.now,
            "_seen_batch_id": batch.id,
            "_retired_at": None,
            "_retired_batch_id": None,
        }
        # Items kept encrypted are written with their blind-index digests beside them.
        self.blinds = {
            n: cells.blind_column(n) for n in self.names if n in table.c and store.is_encrypted(table.c[n])
        }
        self.written = [*self.names, *self.blinds.values()]
        self.insert = store.BulkInsert(db, table, ["_key", "_row_hash", *self.written], self.provenance)

    def quarantine(self, rows: Bad) -> None:
        if not rows:
            return
        self.counts.quarantined += len(rows)
        for _line, _raw, reasons in rows:
            for r in reasons:
                text = r.get(SUMMARY) or r["reason"]
                label = f"{r.get('title', '')}：{text}" if r.get("title") else text
                self.reasons[label] = self.reasons.get(label, 0) + 1
        self.db.execute(
            insert(QuarantinedRow),
            [
                {
                    "batch_id": self.batch.id,
                    "resource_id": self.batch.resource_id,
                    "line_no": line,
                    "row_key": self.bad_keys.get(line),
                    "data": self._quarantined(raw),
                    "reasons": [{k: v for k, v in r.items() if k != SUMMARY} for r in reasons],
                    "status": "open",
                    "created_at": self.now,
                }
                for line, raw, reasons in rows
            ],
        )

    def _quarantined(self, raw: dict[str, Any]) -> dict[str, str]:
        """A refused row as kept for the provider to fix: as sent, encrypted items encrypted."""
        data = {k: ("" if v is None else str(v)) for k, v in raw.items() if k != "__error__"}
        for name in self.blinds:
            if data.get(name):
                data[name] = cells.encrypt(self.batch.resource_id, name, data[name])
        return data

    def chunk(self, checked: Checked) -> None:
        if checked.failed_keys and self.mode is Mode.snapshot:
            # Rows the snapshot holds but quarantined keep their stored version: not retired.
            t = self.table
            self.db.execute(
                update(t)
                .where(t.c._key == bindparam("k"), t.c._retired_at.is_(None))
                .values(_seen_batch_id=self.batch.id),
                [{"k": k} for k in checked.failed_keys.values()],
            )
        good, bad = self._sort(checked)
        if self.fresh:
            counts, reasons = replace(self.counts), dict(self.reasons)
            try:
                with self.db.begin_nested():
                    self._store(dict(good), list(bad), {})
                return
            except store.KeyClash:
                # An earlier chunk of this batch stored one of these keys: this chunk, and the rest
                # of the batch, take the long way, which quarantines the repeated key.
                self.counts, self.reasons, self.fresh = counts, reasons, False
        existing = (
            {
                r._key: r
                for r in self.db.execute(
                    select(
                        self.table.c._key,
                        self.table.c._row_hash,
                        self.table.c._retired_at,
                        self.table.c._seen_batch_id,
                    ).where(self.table.c._key.in_(list(good)))
                )
            }
            if good
            else {}
        )
        self._store(good, bad, existing)

    def _sort(self, checked: Checked) -> tuple[Good, Bad]:
        """The chunk's rows that passed the per-value rules (by key; a key met twice in the chunk
        quarantines the second row), and those that did not. The chunk's parsed values stay in
        `self.values` (item: column), which `Good` rows index into."""
        records = checked.records
        bad: Bad = []
        good: Good = {}
        self.counts.received += len(records)
        self.values = dict(zip(self.checked_names or self.names, checked.columns, strict=True))
        for name, blind in self.blinds.items():
            if name in self.values:
                rid = self.batch.resource_id
                self.values[blind] = [cells.blind(rid, v) for v in self.values[name]]
        for n, (line, raw) in enumerate(records):
            if "__error__" in raw:
                bad.append((line, raw, [{"reason": raw["__error__"]}]))
            elif n in checked.failed:
                bad.append((line, raw, checked.failed[n]))
                if n in checked.failed_keys:
                    self.bad_keys[line] = checked.failed_keys[n]
        contents = checked.contents or [""] * len(checked.clean)
        for i, key, content in zip(checked.clean, checked.row_keys, contents, strict=True):
            line, raw = records[i]
            if key in good:
                self.bad_keys[line] = key
                bad.append(
                    (
                        line,
                        raw,
                        [
                            {
                                "reason": f"与本批次第 {good[key][0]} 行的业务主键重复",
                                SUMMARY: "与本批次其他行的业务主键重复",
                            }
                        ],
                    )
                )
                continue
            good[key] = (line, raw, i, content)
            if len(self.samples) < SAMPLE_ROWS:
                self.samples.append({n: self.values[n][i] for n in self.names if n in self.values})
        bad.sort(key=lambda r: r[0])
        return good, bad

    def _row(self, i: int) -> dict[str, Any]:
        """The values of the chunk's row `i` (by item)."""
        return {name: column[i] for name, column in self.values.items()}

    def _store(self, good: Good, bad: Bad, existing: dict[str, Any]) -> None:
        """Quarantine `bad` and write `good`, given the stored rows (`existing`) of its keys."""
        for key in [k for k, r in existing.items() if r._seen_batch_id == self.batch.id]:
            line, raw, _i, _h = good.pop(key)
            self.bad_keys[line] = key
            bad.append((line, raw, [{"reason": "与本批次之前的行业务主键重复"}]))
        if self.unique and good:
            while self._check_unique(good, existing, bad):
                pass
        self.quarantine(bad)
        if self.mode is Mode.delete:
            self._delete(good, existing)
            return
        t = self.table
        inserts: list[tuple[str, str, int]] = []
        changes, seen = [], []
        for key, (_line, _raw, i, content) in good.items():
            current = existing.get(key)
            if current is None:
                inserts.append((key, content, i))
            elif current._row_hash != content or current._retired_at is not None:
                changes.append({"k": key, "_row_hash": content, **self.provenance, **self._row(i)})
            else:
                seen.append({"k": key})
        if inserts:
            at = [i for _k, _c, i in inserts]
            self.insert(
                [
                    [k for k, _c, _i in inserts],
                    [c for _k, c, _i in inserts],
                    *(list(map(self.values[name].__getitem__, at)) for name in self.written),
                ]
            )
        if changes:
            columns = [c for c in changes[0] if c != "k"]
            self.db.execute(
                update(t).where(t.c._key == bindparam("k")).values({c: bindparam(c) for c in columns}),
                changes,
            )
        if seen:
            self.db.execute(
                update(t).where(t.c._key == bindparam("k")).values(_seen_batch_id=self.batch.id), seen
            )
        if self.open_quarantine and good:
            # Sent again and accepted: an earlier batch's quarantined row of the key is resolved.
            self.db.execute(
                update(QuarantinedRow)
                .where(
                    QuarantinedRow.resource_id == self.batch.resource_id,
                    QuarantinedRow.status == "open",
                    QuarantinedRow.batch_id != self.batch.id,
                    QuarantinedRow.row_key.in_(list(good)),
                )
                .values(status="resubmitted", resolved_batch_id=self.batch.id)
            )
        self.counts.accepted += len(good)
        self.counts.inserted += len(inserts)
        self.counts.updated += len(changes)
        self.counts.unchanged += len(seen)

    def _check_unique(self, good: Good, existing: dict[str, Any], bad: Bad) -> bool:
        """Move to `bad` the rows whose value of a `unique` item another live row holds: a stored row
        (written before this batch or by an earlier chunk of it) or an earlier row of this chunk.

        One IN query per item and chunk. Stored rows this chunk rewrites are left out of it: their new
        values are compared instead. A row moved to `bad` here keeps its stored values, which then
        count again: returns True when that happened, for the caller to check once more.
        """
        t = self.table
        stored_kept = False
        for item in self.unique:
            name = self.blinds.get(item.name, item.name)  # an encrypted item: compared by digest
            column = t.c[name]
            values = self.values[name]
            wanted = {values[i] for _l, _r, i, _h in good.values()} - {None}
            if not wanted:
                continue
            held: dict[Any, bool] = {}  # value -> held by a row of this batch (an earlier chunk)
            for value, key, seen in self.db.execute(
                select(column, t.c._key, t.c._seen_batch_id).where(
                    column.in_(list(wanted)), t.c._retired_at.is_(None)
                )
            ):
                if key not in good:
                    held[value] = held.get(value, False) or seen == self.batch.id
            first: dict[Any, int] = {}
            for key, (line, raw, i, _h) in list(good.items()):
                value = values[i]
                if value is None:
                    continue
                if value in held:
                    reason = summary = "与本批次之前的行重复" if held[value] else "与已有数据重复"
                elif value in first:
                    reason, summary = f"与第 {first[value]} 行重复", "与本批次其他行重复"
                else:
                    first[value] = line
                    continue
                del good[key]
                stored_kept = stored_kept or key in existing
                self.bad_keys[line] = key
                bad.append(
                    (
                        line,
                        raw,
                        [
                            {
                                "item": item.name,
                                "title": item.title,
                                "reason": f"{item.message}（{reason}）" if item.message else reason,
                                SUMMARY: item.message or summary,
                                "value": str(raw.get(item.name, "")).strip()[:100],
                            }
                        ],
                    )
                )
        return stored_kept

    def _delete(self, good: Good, existing: dict[str, Any]) -> None:
        live = [{"k": k} for k in good if k in existing and existing[k]._retired_at is None]
        if live:
            self.db.execute(
                update(self.table)
                .where(self.table.c._key == bindparam("k"))
                .values(_retired_at=self.now, _retired_batch_id=self.batch.id, _seen_batch_id=self.batch.id),
                live,
            )
        self.counts.accepted += len(good)
        self.counts.retired += len(live)
        self.counts.not_found += len(good) - len(live)

    def retire_absent(self) -> int:
        """Snapshot: rows the snapshot did not contain are retired (kept, marked)."""
        t = self.table
        result = self.db.execute(
            update(t)
            .where(
                t.c._retired_at.is_(None),
                or_(t.c._seen_batch_id.is_(None), t.c._seen_batch_id != self.batch.id),
            )
            .values(_retired_at=self.now, _retired_batch_id=self.batch.id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _live_rows(db: Session, table: Table) -> int:
    return int(db.scalar(select(func.count()).select_from(table).where(table.c._retired_at.is_(None))) or 0)


def lock_batches(db: Session, resource_id: int) -> None:
    """Hold off other batches of the resource, and its destruction, until the caller's transaction
    ends (SQLite serialises writers already).

    `FOR NO KEY UPDATE`, not `FOR UPDATE`: a data call's use record refers to the resource, and the
    foreign-key check of its insert takes a key-share lock on the row, which `FOR UPDATE` would make
    wait for the whole batch (on the event loop's thread, for a cached call: `web.deps`)."""
    db.execute(select(Resource.id).where(Resource.id == resource_id).with_for_update(key_share=True))


def ingest(
    db: Session, *, actor: Actor, req: BatchRequest, max_retire_ratio: float = 0.5
) -> tuple[Batch, bool]:
    """Apply one batch; returns it and whether it is the replay of an earlier one (same key)."""
    resource = provision_resource(db, actor=actor, resource_id=req.resource_id, action=Action.data_provide)
    if resource.published_version_id is None or resource.status == "retired":
        raise Invalid("只能向已发布的目录条目提供数据。", "The resource is not published.")
    if resource.provision_method != "table":
        raise Invalid("该资源不是库表类资源，不能按批次推送数据行。", "Not a table resource.")
    if req.declared_sm3 and req.declared_sm3.strip().lower() != req.body.sm3:
        raise Invalid(
            "X-Content-SM3 与收到的内容不一致：传输中数据可能损坏或被截断，批次未处理，请重新发送。",
            "X-Content-SM3 does not match the body.",
            details={"field": "X-Content-SM3", "received_sm3": req.body.sm3},
        )
    # A retry that arrives while its first attempt is still being applied waits here, then finds it.
    lock_batches(db, resource.id)
    if req.idempotency_key:
        earlier = db.scalar(
            select(Batch).where(
                Batch.resource_id == resource.id, Batch.idempotency_key == req.idempotency_key
            )
        )
        if earlier is not None:
            if earlier.content_sm3 != req.body.sm3:
                raise Conflict(
                    "该 Idempotency-Key 已用于内容不同的另一批次；重试请发送相同内容，新批次请换新的 Key。",
                    "Idempotency-Key reused with a different body.",
                    details={"batch_id": earlier.id},
                )
            return earlier, True
    version = db.get(ResourceVersion, resource.published_version_id)
    assert version is not None
    items = version.items
    keys = [i["name"] for i in items if i.get("is_key")]
    table, migrations = store.ensure_table(db, resource.id, items)
    for change in migrations:
        log.warning(
            "resource %s: item %s changed type (%s -> %s); %s of %s values converted, the others kept in %s",
            resource.id,
            change.item,
            change.old_type,
            change.new_type,
            change.converted,
            change.values,
            change.kept_in,
        )
    live_before = _live_rows(db, table)
    batch = Batch(
        id=str(uuid.uuid4()),
        resource_id=resource.id,
        org_id=resource.org_id,
        version_number=version.number,
        system_id=actor.system_id,
        user_id=actor.user_id,
        source=req.source,
        mode=req.mode.value,
        format=Format.of(req.content_type).value,
        encoding=req.encoding,
        idempotency_key=req.idempotency_key,
        content_sm3=req.body.sm3,
        size_bytes=req.body.size,
        report={},
    )
    db.add(batch)
    db.flush()
    provider_rules = list(db.scalars(select(QualityRule).where(QualityRule.resource_id == resource.id)))
    unique = unique_items(provider_rules, items)
    for name in unique:
        store.ensure_index(db, table, name)
    plan = Plan(
        content_type=req.content_type,
        encoding=req.encoding,
        mode=req.mode,
        items=items,
        keys=keys,
        provider_rules=[ProviderRule(r.item_name, r.kind, dict(r.params), r.message) for r in provider_rules],
        chunk=CHUNK,
    )
    applier = _Applier(
        db,
        table,
        batch,
        rules_for(items, checks_for(plan.provider_rules, items)),
        keys,
        req.mode,
        unique,
        fresh=db.scalar(select(table.c._key).limit(1)) is None,
    )
    helper_min = get_settings().ingest_helper_min_mb * 1024 * 1024
    with closing(checked_chunks(req, plan, helper_min_bytes=helper_min)) as chunks:
        for checked in chunks:
            applier.chunk(checked)
            if req.progress is not None and checked.position is not None:
                req.progress(checked.position)
    counts = applier.counts
    if req.mode is Mode.snapshot:
        counts.retired = applier.retire_absent()
        if live_before and counts.retired > live_before * max_retire_ratio and not req.allow_mass_retire:
            raise Invalid(
                f"该全量快照将使 {counts.retired} / {live_before} 行（超过 {max_retire_ratio:.0%}）失效，"
                "可能是文件不完整。批次未处理；确认无误请加参数 ?allow_mass_retire=true 重新提交。",
                "The snapshot would retire too many rows.",
                details={"field": "mode", "would_retire": counts.retired, "live": live_before},
            )
    # After the rows: a first load builds the 查询项 indexes once instead of growing them row by row.
    indexed = store.ensure_query_indexes(db, table, items)
    changed = counts.inserted + counts.updated + counts.retired
    if indexed or changed >= max(1000, live_before // 10):
        store.analyze(db, table)
    _finish(db, actor, resource, batch, applier, items, live_before, migrations)
    return batch, False


def _finish(
    db: Session,
    actor: Actor,
    resource: Resource,
    batch: Batch,
    applier: _Applier,
    items: list[dict[str, Any]],
    live_before: int,
    migrations: list[store.TypeChange],
) -> None:
    c = applier.counts
    batch.rows_received, batch.accepted, batch.quarantined = c.received, c.accepted, c.quarantined
    batch.inserted, batch.updated, batch.unchanged, batch.retired = (
        c.inserted,
        c.updated,
        c.unchanged,
        c.retired,
    )
    batch.quality_score = round(100.0 * c.accepted / c.received, 2) if c.received else 100.0
    flags = discover(items, applier.samples)
    batch.report = {
        "reasons": dict(sorted(applier.reasons.items(), key=lambda kv: -kv[1])[:50]),
        "not_found": c.not_found,
        "sensitivity": flags,
        "anomalies": anomalies(
            score=batch.quality_score,
            received=c.received,
            live_before=live_before,
            inserted=c.inserted,
            retired=c.retired,
            settings=get_settings(),
        ),
        # Columns migrated to a new item type before this batch: what was converted, what was kept aside.
        **({"migrations": [m.as_dict() for m in migrations]} if migrations else {}),
    }
    batch.finished_at = datetime.now(UTC)
    db.flush()
    if c.quarantined:
        tasks.open_task(
            db,
            kind="batch_quality",
            title=f"数据批次有 {c.quarantined} 行未通过质量检查：{resource.name}",
            link=f"/catalog/{resource.id}/data/batches/{batch.id}",
            org_id=resource.org_id,
            subject_type="batches",
            subject_id=batch.id,
            assignee_role=Role.data_admin,
        )
    if flags:
        _flag_sensitivity(db, resource, flags)
    if batch.report["anomalies"]:
        # The provider's data administrators, who can fix it, and the Bureau, who supervises (S15).
        bureau = orgs.bureau(db)
        for org_id, role in (
            (resource.org_id, Role.data_admin),
            (bureau.id if bureau else None, Role.bureau_admin),
        ):
            if org_id is None:
                continue
            tasks.open_task(
                db,
                kind="batch_anomaly",
                title=f"数据批次异常：{resource.name}（{'；'.join(batch.report['anomalies'])}）"[:200],
                link=f"/catalog/{resource.id}/data/batches/{batch.id}",
                org_id=org_id,
                subject_type="batches",
                subject_id=batch.id,
                assignee_role=role,
            )
    audit.record(
        db,
        EventType.batch_ingested,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={
            "batch_id": batch.id,
            "mode": batch.mode,
            "received": c.received,
            "accepted": c.accepted,
            "quarantined": c.quarantined,
            "retired": c.retired,
            "sm3": batch.content_sm3,
            **({"migrations": batch.report["migrations"]} if migrations else {}),
        },
    )


def anomalies(
    *, score: float, received: int, live_before: int, inserted: int, retired: int, settings: Settings
) -> list[str]:
    """Why a batch is an anomaly for the Bureau (empty when it is not): a quality score below
    `batch_alert_score`, or, for a resource that held at least `batch_row_change_min_rows` live rows,
    more rows inserted or retired than `batch_row_change_ratio` of them (a runaway or truncated export,
    a wrong key)."""
    found = []
    if received and score < settings.batch_alert_score:
        found.append(f"质量得分 {score:.1f} 低于 {settings.batch_alert_score:g}")
    if live_before and live_before >= settings.batch_row_change_min_rows:
        ratio = settings.batch_row_change_ratio
        share = f"超过原有 {live_before} 行的 {ratio:.0%}"
        if inserted > live_before * ratio:
            found.append(f"新增 {inserted} 行，{share}")
        if retired > live_before * ratio:
            found.append(f"失效 {retired} 行，{share}")
    return found


def _flag_sensitivity(db: Session, resource: Resource, flags: list[dict[str, Any]]) -> None:
    """Tell the provider's data administrators and the Bureau, once while the flag is open."""
    items = "、".join(
        f"{f['title']}（识别为{f['detected']}，目录 {f['catalog_level']}，建议 {f['suggested_level']}）"
        for f in flags
    )
    title = f"敏感数据识别：{resource.name} 的 {items}"[:200]
    bureau = orgs.bureau(db)
    for org_id, role in (
        (resource.org_id, Role.data_admin),
        (bureau.id if bureau else None, Role.bureau_admin),
    ):
        if org_id is None:
            continue
        already = db.scalar(
            select(Task.id).where(
                Task.kind == "sensitivity_flag",
                Task.subject_type == "resources",
                Task.subject_id == str(resource.id),
                Task.org_id == org_id,
                Task.status == "open",
            )
        )
        if already is None:
            tasks.open_task(
                db,
                kind="sensitivity_flag",
                title=title,
                link=f"/catalog/{resource.id}",
                org_id=org_id,
                subject_type="resources",
                subject_id=resource.id,
                assignee_role=role,
            )
