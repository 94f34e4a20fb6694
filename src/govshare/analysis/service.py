"""Analysis: the granted schema, running a checked query in its sandbox, assessing and releasing
the result, derived datasets, and the records auditors read (S24).

Who: `analysis.run` / `analysis.release` (business users and data administrators, own
department; the data API's `data.consume` is needed too) and `analysis.audit` (auditors and the
Bureau's administrators, city-wide: every query and release with its provenance). People analyse
their department's grants that are not bound to a business system (a system-bound grant serves
that system's calls only, as in the data API). Only the analyst who ran a query may release it:
the differencing check compares one analyst's releases.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.analysis import risk
from govshare.analysis import sql as checker
from govshare.analysis.models import AnalysisQuery, AnalysisRelease, DerivedDataset
from govshare.analysis.sandbox import Sandbox, column_type
from govshare.analysis.sql import Output
from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, allowed, require
from govshare.catalog.models import Resource
from govshare.classification.scheme import highest
from govshare.crypto import sm3_hex
from govshare.db import utcnow
from govshare.errors import Conflict, DomainError, Invalid, NotFound
from govshare.exchange.access import published_items
from govshare.exchange.models import Batch
from govshare.masking import row_masker
from govshare.pagination import PageParams
from govshare.settings import get_settings
from govshare.sharing import rows as sharing_rows
from govshare.sharing.models import Grant
from govshare.sharing.service import record_use

CHANNEL = "analysis"
MAX_BATCHES = 100  # batch ids kept per source in a query's provenance


def table_name(resource_id: int) -> str:
    return f"r{resource_id}"


def _usable_grants(db: Session, actor: Actor) -> list[Grant]:
    """The department's active grants a person may analyse (not bound to a business system)."""
    assert actor.org_id is not None
    now = utcnow()
    stmt = (
        select(Grant)
        .join(Resource, Resource.id == Grant.resource_id)
        .where(
            Grant.org_id == actor.org_id,
            Grant.status == "active",
            Grant.valid_from <= now,
            Grant.valid_until > now,
            Resource.provision_method == "table",
        )
        .order_by(Grant.resource_id, Grant.id)
    )
    grants = list(db.scalars(stmt))
    return [g for g in grants if g.system_id is None or actor.kind == "system"]


def _department(actor: Actor) -> None:
    require(actor, Action.analysis_run)
    require(actor, Action.data_consume)
    if actor.org_id is None:
        raise Invalid("只有部门的人员可以做数据分析。", "No department.")


def schema(db: Session, *, actor: Actor) -> list[dict[str, Any]]:
    """One entry per usable grant: the table to use in SQL, its purpose and its granted items with
    the masking each gets (L4 items are never listed)."""
    _department(actor)
    tables = []
    for grant in _usable_grants(db, actor):
        resource = db.get(Resource, grant.resource_id)
        assert resource is not None
        items = [i for i in published_items(db, resource) if i["name"] in grant.items]
        masker = row_masker(db, items, grant.masking_profile)
        columns = [
            {
                "name": i["name"],
                "title": i.get("title"),
                "type": column_type(i.get("data_type")),
                "data_type": i.get("data_type"),
                "sensitivity": i.get("sensitivity") or "L1",
                "masking": masker.rules.get(i["name"], "原样提供"),
            }
            for i in items
            if i["name"] not in masker.dropped
        ]
        tables.append(
            {
                "resource_id": resource.id,
                "resource_name": resource.name,
                "table": table_name(resource.id),
                "columns": columns,
                "purpose": grant.purpose,
                "grant_id": grant.id,
                "row_scope": grant.scope_text(),
            }
        )
    return tables


def purposes(db: Session, *, actor: Actor) -> list[str]:
    _department(actor)
    return sorted({g.purpose for g in _usable_grants(db, actor)})


def _clean_purpose(purpose: str) -> str:
    purpose = " ".join((purpose or "").split())
    if not purpose:
        raise Invalid(
            "请选择本次分析的用途（须与本单位所持授权申报的用途一致）。",
            "purpose is required.",
            details={"field": "purpose"},
        )
    if len(purpose) > 200:
        raise Invalid("用途不能超过 200 个字。", "purpose too long.", details={"field": "purpose"})
    return purpose


def _k_for(level: str) -> int:
    settings = get_settings()
    return {"L1": settings.analysis_k_l1, "L2": settings.analysis_k_l2}.get(level, settings.analysis_k_l3)


def _outputs(query: AnalysisQuery) -> list[Output]:
    return [Output(**o) for o in query.shape.get("outputs", [])]


def _earlier(db: Session, query: AnalysisQuery) -> list[risk.Earlier]:
    """The department's released results over the same set of sources (not `query` itself): a
    colleague's release subtracts as well as one's own, since derived datasets are the department's."""
    resources = sorted(s["resource_id"] for s in query.sources)
    released = db.scalars(
        select(AnalysisQuery)
        .where(
            AnalysisQuery.org_id == query.org_id,
            AnalysisQuery.id != query.id,
            AnalysisQuery.id.in_(select(AnalysisRelease.query_id)),
        )
        .order_by(AnalysisQuery.id)
    )
    return [
        risk.Earlier(q.id, q.columns, _outputs(q), q.rows)
        for q in released
        if sorted(s["resource_id"] for s in q.sources) == resources
    ]


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return value


def _batches(db: Session, reading: sharing_rows.Reading) -> tuple[list[str], str | None]:
    """The batches the rows read came from (up to MAX_BATCHES ids) and the resource's last batch."""
    table = reading.table
    last = db.scalar(
        select(Batch.id)
        .where(Batch.resource_id == reading.resource.id)
        .order_by(Batch.received_at.desc())
        .limit(1)
    )
    if table is None:
        return [], last
    stmt = reading.scoped(select(table.c._batch_id).where(table.c._retired_at.is_(None)).distinct())
    return sorted(db.scalars(stmt.limit(MAX_BATCHES)).all()), last


def _load(db: Session, box: Sandbox, name: str, reading: sharing_rows.Reading, cap: int) -> int:
    columns = [(c, column_type(reading.granted[c].get("data_type"))) for c in reading.columns]
    loaded: list[list[Any]] = []
    for _key, values in sharing_rows.export_rows(db, reading, []):
        loaded.append([values[c] for c in reading.columns])
        if len(loaded) > cap:
            raise Invalid(
                f"表 {name}（{reading.resource.name}）授权范围内的数据超过 {cap} 行，超出分析沙箱上限："
                "请联系市数据资源管理局调整上限，或申请范围更小的授权。",
                "Table above the sandbox's row cap.",
                details={"field": "sql", "table": name},
            )
    box.load(name, columns, loaded)
    return len(loaded)


def _refused(db: Session, actor: Actor, sql: str, purpose: str, exc: DomainError) -> None:
    assert actor.org_id is not None
    query = AnalysisQuery(
        org_id=actor.org_id,
        user_id=actor.user_id,
        sql=sql[: checker.MAX_SQL],
        purpose=purpose[:200],
        status="refused",
        refusal=exc.message,
        shape={},
    )
    db.add(query)
    db.flush()
    audit.record(
        db,
        EventType.analysis_refused,
        actor=actor,
        obj=query,
        outcome="denied",
        details={"sql": query.sql, "purpose": query.purpose, "reason": exc.message, **(exc.details or {})},
    )
    exc.keep_changes = True


@dataclass
class _Source:
    name: str
    reading: sharing_rows.Reading


def run_query(db: Session, *, actor: Actor, sql: str, purpose: str) -> AnalysisQuery:
    """Check, run and assess `sql` for `purpose`. Raises Invalid (422) for a query that is not one
    SELECT or reaches anything ungranted, Forbidden (403) when no grant of a queried resource is
    for `purpose`; both refusals are recorded and audited. The accepted query, its sources, result
    and checks are recorded and audited."""
    _department(actor)
    assert actor.org_id is not None
    settings = get_settings()
    purpose_text = " ".join((purpose or "").split())
    try:
        purpose_text = _clean_purpose(purpose)
        tree = checker.parse(sql)
        granted = {g.resource_id for g in _usable_grants(db, actor)}
        sources: list[_Source] = []
        for name in checker.referenced_tables(tree):
            resource_id = checker.resource_id_of(name)
            if resource_id is None or resource_id not in granted:
                raise Invalid(
                    f"表 {name} 不在本单位的授权范围内："
                    "请只查询左侧分析目录列出的表（本单位持有有效授权的资源）。",
                    "Table outside the grants.",
                    details={"field": "sql", "table": name},
                )
            reading = sharing_rows.reading_for(
                db, actor=actor, resource_id=resource_id, purpose=purpose_text, fields=None, channel=CHANNEL
            )
            sources.append(_Source(name, reading))
        granted_schema = {
            s.name: {c: column_type(s.reading.granted[c].get("data_type")) for c in s.reading.columns}
            for s in sources
        }
        checked = checker.check(tree, granted_schema)
        for source in sources:
            # Only the items the query reads are copied (at least one, so that rows still count).
            read = [c for c in source.reading.columns if c in checked.needed[source.name]]
            source.reading = replace(source.reading, columns=read or source.reading.columns[:1])
        box = Sandbox()
        try:
            counts = {
                s.name: _load(db, box, s.name, s.reading, settings.analysis_table_rows) for s in sources
            }
            result = box.run(
                checked.sqlite, seconds=settings.analysis_seconds, max_rows=settings.analysis_result_rows
            )
        finally:
            box.close()
    except DomainError as exc:
        _refused(db, actor, sql, purpose_text, exc)
        raise
    provenance = []
    items: list[dict[str, Any]] = []
    for source in sources:
        reading = source.reading
        batches, last = _batches(db, reading)
        read_items = list(reading.granted.values())  # the level of the grant, not only of the items read
        items += read_items
        provenance.append(
            {
                "resource_id": reading.resource.id,
                "resource_name": reading.resource.name,
                "table": source.name,
                "grant_id": reading.grant.id,
                "level": highest(read_items)[1],
                "rows": counts[source.name],
                "batches": batches,
                "last_batch": last,
            }
        )
    level = highest(items)[1] if items else "L1"
    k = _k_for(level)
    rows = [[_json_value(v) for v in row] for row in result.rows]
    outputs = (
        checked.outputs
        if len(checked.outputs) == len(result.columns)
        else [Output(name=c, count=bool(checker.COUNT_NAME.search(c))) for c in result.columns]
    )
    query = AnalysisQuery(
        org_id=actor.org_id,
        user_id=actor.user_id,
        sql=sql.strip(),
        purpose=purpose_text,
        status="accepted",
        sources=provenance,
        columns=result.columns,
        shape={
            "aggregate": checked.aggregate,
            "level": level,
            "k": k,
            "outputs": [{"name": o.name, "count": o.count, "measure": o.measure} for o in outputs],
        },
        rows=rows,
        row_count=len(rows),
        truncated=result.truncated,
    )
    db.add(query)
    db.flush()
    query.checks = risk.assess(
        result.columns,
        outputs,
        rows,
        aggregate=checked.aggregate,
        k=k,
        small_cell=settings.analysis_small_cell if k > 1 else 1,
        earlier=_earlier(db, query),
    )
    query.releasable = all(c["passed"] for c in query.checks)
    db.flush()
    for source in sources:
        record_use(
            db,
            actor=actor,
            resource_id=source.reading.resource.id,
            purpose=purpose_text,
            channel=CHANNEL,
            grant=source.reading.grant,
            rows=counts[source.name],
        )
    audit.record(
        db,
        EventType.analysis_run,
        actor=actor,
        obj=query,
        details={
            "sql": query.sql,
            "purpose": purpose_text,
            "sources": provenance,
            "rows": query.row_count,
            "truncated": query.truncated,
            "result_sm3": sm3_hex(json.dumps(rows, ensure_ascii=False, default=str).encode()),
        },
    )
    _audit_checks(db, actor, query)
    return query


def _audit_checks(db: Session, actor: Actor, query: AnalysisQuery) -> None:
    audit.record(
        db,
        EventType.analysis_checked,
        actor=actor,
        obj=query,
        outcome="success" if query.releasable else "failure",
        details={
            "releasable": query.releasable,
            "level": query.shape.get("level"),
            "k": query.shape.get("k"),
            "failed": [c for c in query.checks if not c["passed"]],
            "sources": [{k: s[k] for k in ("resource_id", "grant_id", "last_batch")} for s in query.sources],
        },
    )


def get_query(db: Session, *, actor: Actor, query_id: int) -> AnalysisQuery:
    """The analyst's own query, or any for `analysis.audit`; anything else is missing."""
    query = db.get(AnalysisQuery, query_id)
    if query is None or not (
        (actor.user_id is not None and query.user_id == actor.user_id and allowed(actor, Action.analysis_run))
        or allowed(actor, Action.analysis_audit)
    ):
        raise NotFound("找不到该分析查询。", f"Analysis query #{query_id} not found.")
    return query


def list_queries(
    db: Session, *, actor: Actor, params: PageParams, everyone: bool = False
) -> tuple[list[AnalysisQuery], int]:
    """The analyst's own queries, newest first; with `everyone`, every query (analysis.audit)."""
    stmt = select(AnalysisQuery)
    if everyone:
        require(actor, Action.analysis_audit)
    else:
        require(actor, Action.analysis_run)
        stmt = stmt.where(AnalysisQuery.user_id == actor.user_id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    found = db.scalars(stmt.order_by(AnalysisQuery.id.desc()).limit(params.page_size).offset(params.offset))
    return list(found), total


def csv_bytes(columns: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode()


@dataclass
class Released:
    release: AnalysisRelease
    content: bytes
    derived: DerivedDataset | None


def _refuse_release(db: Session, actor: Actor, query: AnalysisQuery, message: str) -> Conflict:
    audit.record(
        db,
        EventType.analysis_release_refused,
        actor=actor,
        obj=query,
        outcome="denied",
        details={"reason": message, "failed": [c for c in query.checks if not c["passed"]]},
    )
    return Conflict(
        message, "The result is not releasable.", details={"query_id": query.id}, keep_changes=True
    )


def release(
    db: Session,
    *,
    actor: Actor,
    query_id: int,
    kind: str,
    name: str | None = None,
    description: str | None = None,
) -> Released:
    """Release a checked result as CSV (`kind` csv) or as a derived dataset of the department
    (`kind` derived, with `name`). Refused (409, audited) unless every check passed — the
    differencing check is run again against the analyst's releases made since."""
    query = get_query(db, actor=actor, query_id=query_id)
    require(actor, Action.analysis_release)
    if query.user_id != actor.user_id:
        raise NotFound("找不到该分析查询。", f"Analysis query #{query_id} not found.")
    if kind not in ("csv", "derived"):
        raise Invalid("发布方式应为 csv 或 derived。", "Unknown kind.", details={"field": "kind"})
    if query.status != "accepted":
        raise Conflict("该查询被拒绝执行，没有可发布的结果。", "The query was refused.")
    if kind == "derived":
        name = " ".join((name or "").split())
        if not name or len(name) > 200:
            raise Invalid(
                "请填写派生数据集名称（不超过 200 个字）。", "name is required.", details={"field": "name"}
            )
    if not query.releasable:
        raise _refuse_release(
            db, actor, query, "该结果未通过输出风险评估，不能导出或保存：请按检查结果修改查询后重试。"
        )
    now = utcnow()
    for source in query.sources:
        grant = db.get(Grant, source["grant_id"])
        if grant is None or grant.status != "active" or not grant.valid_from <= now < grant.valid_until:
            raise _refuse_release(
                db,
                actor,
                query,
                f"查询所用的 {source['resource_name']} 授权已不再有效，不能再发布这一结果。",
            )
    k = int(query.shape.get("k", 1))
    again = risk.differencing(query.columns, _outputs(query), query.rows, _earlier(db, query), k)
    if not all(c["passed"] for c in again):
        query.checks = [c for c in query.checks if c["name"] != "differencing"] + again
        query.releasable = False
        db.flush()
        _audit_checks(db, actor, query)
        raise _refuse_release(
            db,
            actor,
            query,
            "与您此后发布的结果相比，本结果可被差分识别出少数人，不能发布：" + again[0]["detail"],
        )
    content = csv_bytes(query.columns, query.rows)
    assert actor.org_id is not None
    record = AnalysisRelease(
        query_id=query.id, org_id=query.org_id, released_by=actor.user_id, kind=kind, sm3=sm3_hex(content)
    )
    db.add(record)
    db.flush()
    derived = None
    if kind == "derived":
        assert name is not None
        derived = DerivedDataset(
            org_id=query.org_id,
            name=name,
            description=(description or "").strip()[:2000] or None,
            query_id=query.id,
            release_id=record.id,
            level=str(query.shape.get("level", "L1")),
            lineage={
                "sql": query.sql,
                "purpose": query.purpose,
                "sources": query.sources,
                "checks": query.checks,
                "sm3": record.sm3,
            },
            columns=query.columns,
            rows=query.rows,
            created_by=actor.user_id,
        )
        db.add(derived)
        db.flush()
    audit.record(
        db,
        EventType.analysis_released,
        actor=actor,
        obj=record,
        details={
            "query_id": query.id,
            "kind": kind,
            "sm3": record.sm3,
            "rows": query.row_count,
            "derived_id": derived.id if derived else None,
            "sources": query.sources,
        },
    )
    return Released(record, content, derived)


def list_releases(db: Session, *, actor: Actor, params: PageParams) -> tuple[list[AnalysisRelease], int]:
    require(actor, Action.analysis_audit)
    total = db.scalar(select(func.count(AnalysisRelease.id))) or 0
    found = db.scalars(
        select(AnalysisRelease)
        .order_by(AnalysisRelease.id.desc())
        .limit(params.page_size)
        .offset(params.offset)
    )
    return list(found), total


def list_derived(db: Session, *, actor: Actor, params: PageParams) -> tuple[list[DerivedDataset], int]:
    """The department's derived datasets (every department's for analysis.audit)."""
    stmt = select(DerivedDataset)
    if not allowed(actor, Action.analysis_audit):
        require(actor, Action.analysis_run)
        stmt = stmt.where(DerivedDataset.org_id == actor.org_id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    found = db.scalars(stmt.order_by(DerivedDataset.id.desc()).limit(params.page_size).offset(params.offset))
    return list(found), total


def get_derived(db: Session, *, actor: Actor, derived_id: int) -> DerivedDataset:
    derived = db.get(DerivedDataset, derived_id)
    if derived is None or not (
        allowed(actor, Action.analysis_audit)
        or (allowed(actor, Action.analysis_run) and derived.org_id == actor.org_id)
    ):
        raise NotFound("找不到该派生数据集。", f"Derived dataset #{derived_id} not found.")
    return derived


def query_dict(query: AnalysisQuery) -> dict[str, Any]:
    return {
        "id": query.id,
        "status": query.status,
        "refusal": query.refusal,
        "sql": query.sql,
        "purpose": query.purpose,
        "columns": query.columns,
        "rows": query.rows,
        "row_count": query.row_count,
        "truncated": query.truncated,
        "checks": query.checks,
        "releasable": query.releasable,
        "level": query.shape.get("level"),
        "k": query.shape.get("k"),
        "sources": query.sources,
        "created_at": query.created_at.isoformat(),
    }


def derived_dict(derived: DerivedDataset, *, with_rows: bool = True) -> dict[str, Any]:
    out = {
        "id": derived.id,
        "org_id": derived.org_id,
        "name": derived.name,
        "description": derived.description,
        "level": derived.level,
        "query_id": derived.query_id,
        "release_id": derived.release_id,
        "lineage": derived.lineage,
        "columns": derived.columns,
        "created_at": derived.created_at.isoformat(),
        "shareable": False,
    }
    if with_rows:
        out["rows"] = derived.rows
    return out
