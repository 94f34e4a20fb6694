"""Chinese full-text search over the catalog, with filters and facet counts.

SQLite: an FTS5 table with the `trigram` tokenizer answers terms of three characters or more; a
one- or two-character term (人口, 税) has no trigram, so it is matched with a plain scan of the
entry's search text (DESIGN.md: LIKE on the trigram table itself is unreliable for CJK in SQLite
3.40). PostgreSQL: `ILIKE` over the same text, served by a `pg_trgm` GIN index for longer terms.
The search text is the entry's code, name, summary, provider and item titles (see `search_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, Scope, scope_of
from govshare.catalog.models import CatalogClass, Resource
from govshare.catalog.vocab import (
    ClassKind,
    EntryStatus,
    Labelled,
    OpenType,
    ProvisionMethod,
    ResourceFormat,
    SharingType,
    UpdateCycle,
)
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams

FTS_TABLE = "resource_fts"
FTS_DDL = f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(body, tokenize='trigram')"
TRGM_INDEX = "ix_resources_search_trgm"
MAX_TERMS = 8


def search_text(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def index(db: Session, resource: Resource) -> None:
    """Keep the SQLite FTS row of `resource` in step with its search text (PostgreSQL indexes itself)."""
    if db.get_bind().dialect.name != "sqlite":
        return
    db.execute(text("DELETE FROM resource_fts WHERE rowid = :id"), {"id": resource.id})
    db.execute(
        text("INSERT INTO resource_fts(rowid, body) VALUES (:id, :body)"),
        {"id": resource.id, "body": resource.search_text},
    )


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_FTS = table(FTS_TABLE, column("rowid"), column("body"))


def _term_condition(db: Session, term: str) -> ColumnElement[bool]:
    if db.get_bind().dialect.name == "sqlite" and len(term) >= 3:
        phrase = '"' + term.replace('"', '""') + '"'
        return Resource.id.in_(
            select(_FTS.c.rowid).where(_FTS.c.body.op("MATCH")(bindparam("fts", phrase, unique=True)))
        )
    # The search text is stored lower-cased and terms are lower-cased: a plain LIKE, which the
    # pg_trgm index serves and SQLite runs without lower() on every row.
    return Resource.search_text.like(_like_pattern(term), escape="\\")


_SEPARATORS = re.compile(r"[\s\x00-\x1f\x7f]+")


def terms_of(q: str | None) -> list[str]:
    """The search terms in `q` (split on white space and control characters, which no entry's text
    holds and SQLite's full-text syntax refuses; at most MAX_TERMS, case-folded)."""
    return [t.lower() for t in _SEPARATORS.split(q or "") if t][:MAX_TERMS]


def visible_condition(actor: Actor) -> ColumnElement[bool]:
    """Published (and retired) entries for everyone who may view the catalog; unpublished ones for
    the providing department and the Bureau (`catalog.view_unpublished`)."""
    if scope_of(actor, Action.catalog_view) is None or not actor.is_authenticated:
        return false()
    published = Resource.published_version_id.is_not(None)
    unpublished = scope_of(actor, Action.catalog_view_unpublished)
    if unpublished is Scope.city:
        return published | Resource.id.is_not(None)
    if unpublished is Scope.own_org and actor.org_id is not None:
        return or_(published, Resource.org_id == actor.org_id)
    return published


@dataclass
class Filters:
    q: str | None = None
    class_kind: ClassKind | None = None
    category: str | None = None
    org_id: int | None = None
    sharing_type: SharingType | None = None
    open_type: OpenType | None = None
    format: ResourceFormat | None = None
    update_cycle: UpdateCycle | None = None
    provision_method: ProvisionMethod | None = None
    status: EntryStatus | None = None

    def conditions(self, db: Session) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [_term_condition(db, t) for t in terms_of(self.q)]
        columns: dict[str, Any] = {
            "sharing_type": Resource.sharing_type,
            "open_type": Resource.open_type,
            "format": Resource.format,
            "update_cycle": Resource.update_cycle,
            "provision_method": Resource.provision_method,
            "status": Resource.status,
            "org_id": Resource.org_id,
        }
        for name, col in columns.items():
            value = getattr(self, name)
            if value is not None:
                conds.append(col == (value.value if isinstance(value, Labelled) else value))
        if self.class_kind is not None:
            conds.append(
                Resource.class_id.in_(
                    select(CatalogClass.id).where(CatalogClass.kind == self.class_kind.value)
                )
            )
        if self.category:
            conds.append(
                Resource.class_id.in_(select(CatalogClass.id).where(CatalogClass.code == self.category))
            )
        return conds


# Facets and the entry column (or class attribute) each counts.
FACET_VOCABULARIES: dict[str, type[Labelled]] = {
    "sharing_type": SharingType,
    "open_type": OpenType,
    "format": ResourceFormat,
    "update_cycle": UpdateCycle,
    "status": EntryStatus,
}
_DIMENSIONS = ("class_id", "org_id", "provision_method", *FACET_VOCABULARIES)


@dataclass
class SearchResult:
    rows: list[Resource]
    total: int
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)


def _ranked(stmt: Select[Any], terms: list[str]) -> Select[Any]:
    if not terms:
        return stmt.order_by(Resource.code)
    in_name = and_(*[Resource.name.ilike(_like_pattern(t), escape="\\") for t in terms])
    return stmt.order_by(case((in_name, 0), else_=1), Resource.code)


def search(
    db: Session, *, actor: Actor, filters: Filters, params: PageParams, facets: bool = True
) -> SearchResult:
    """One page of visible entries matching `filters`, and (optionally) facet counts: for each facet,
    the counts under every filter except the facet's own, so a person can switch between values."""
    base = visible_condition(actor)
    conds = [base, *filters.conditions(db)]
    total = db.scalar(select(func.count()).select_from(Resource).where(*conds)) or 0
    stmt = _ranked(select(Resource).where(*conds), terms_of(filters.q))
    rows = list(db.scalars(stmt.offset(params.offset).limit(params.page_size)))
    result = SearchResult(rows=rows, total=total)
    if facets:
        result.facets = _facets(db, base, filters)
    return result


def _facets(
    db: Session, base: ColumnElement[bool], filters: Filters
) -> dict[str, list[tuple[str, str, int]]]:
    """Facet counts from one grouped scan of the entries matching the search terms: every facet is
    counted under all the other filters, which are applied to the (few) groups here, so the text match
    runs once however many facets there are."""
    columns = [getattr(Resource, d) for d in _DIMENSIONS]
    groups = db.execute(
        select(*columns, func.count().label("n"))
        .where(base, *[_term_condition(db, t) for t in terms_of(filters.q)])
        .group_by(*columns)
    ).all()
    classes = {c.id: c for c in db.scalars(select(CatalogClass))}
    orgs: dict[int, str] = {i: n for i, n in db.execute(select(Organisation.id, Organisation.short_name))}

    def value(group: Any, facet: str) -> str:
        if facet == "class_kind":
            return classes[group.class_id].kind
        if facet == "category":
            return classes[group.class_id].code
        return str(getattr(group, facet))

    chosen = {
        facet: (wanted.value if isinstance(wanted, Labelled) else str(wanted))
        for facet, wanted in (
            ("class_kind", filters.class_kind),
            ("category", filters.category),
            ("org_id", filters.org_id),
            ("provision_method", filters.provision_method),  # a filter every facet respects
            *((f, getattr(filters, f)) for f in FACET_VOCABULARIES),
        )
        if wanted is not None and wanted != ""
    }
    found: dict[str, dict[str, int]] = {}
    for facet in ("class_kind", "category", "org_id", *FACET_VOCABULARIES):
        counts: dict[str, int] = {}
        for group in groups:
            if any(value(group, f) != v for f, v in chosen.items() if f != facet):
                continue
            key = value(group, facet)
            counts[key] = counts.get(key, 0) + group.n
        found[facet] = counts
    facets: dict[str, list[tuple[str, str, int]]] = {}
    for facet, vocab in FACET_VOCABULARIES.items():
        order = [m.value for m in vocab]
        facets[facet] = [
            (v, vocab(v).label, n) for v, n in sorted(found[facet].items(), key=lambda kv: order.index(kv[0]))
        ]
    facets["class_kind"] = [(k, ClassKind(k).label, n) for k, n in sorted(found["class_kind"].items())]
    by_code = {c.code: c for c in classes.values()}
    facets["category"] = [(c, f"{c} {by_code[c].name}", n) for c, n in sorted(found["category"].items())]
    facets["org_id"] = [
        (o, orgs.get(int(o), o), n)
        for o, n in sorted(found["org_id"].items(), key=lambda kv: (-kv[1], int(kv[0])))
    ]
    return facets
