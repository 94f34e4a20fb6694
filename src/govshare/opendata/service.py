"""The open-data portal's business API: what is open, its metadata, and its rows (M1, M3, S23, S26).

A resource is open when its published version says 无条件开放 (`open`) or 有条件开放 (`conditional`)
and the entry is published; everything else is reported missing. The items shown are those the
anonymous public may see (metadata access control, S9); the items whose rows are served are those
of them the classification scheme marks openable (S13) and the open-data masking profile does not
drop (L4). Rows of an `open` table resource go to anyone; rows of a `conditional` one only to an
approved applicant (see `applications`), within the approved items and validity.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import ColumnElement, Select, Table, and_, func, select, update
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.catalog import disclosure
from govshare.catalog.models import CatalogClass, Resource, ResourceVersion
from govshare.catalog.search import Filters
from govshare.classification import scheme as classification
from govshare.crypto import sm3_hex
from govshare.db import Writes, later, utcnow
from govshare.errors import Forbidden, Invalid, NotFound
from govshare.exchange import store
from govshare.masking import row_masker
from govshare.masking.models import MaskingProfile
from govshare.masking.profiles import AS_IS, AS_IS_LABEL, ELEMENT_KINDS, RowMasker
from govshare.opendata.models import OpenApplication, OpenSetting
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.sealing import SealError, seal, unseal
from govshare.settings import get_settings
from govshare.sharing.rows import RESERVED, condition, json_column, parse_filters, rows_json
from govshare.workdays import today as beijing_today

OPEN_TYPES = ("open", "conditional")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PREVIEW_ROWS = 5
DOWNLOAD_PAGE = 2000
PROFILE_SETTING = "masking_profile"


def open_condition() -> ColumnElement[bool]:
    """Entries the public may know of: published, with a published version open or conditional."""
    return and_(
        Resource.published_version_id.is_not(None),
        Resource.status == "published",
        Resource.open_type.in_(OPEN_TYPES),
    )


# --- the catalog of open resources ----------------------------------------------------------------


@dataclass
class Listing:
    rows: list[Resource]
    total: int
    providers: dict[int, str]


def providers(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


def search(
    db: Session, *, q: str | None, params: PageParams, org_id: int | None = None, category: str | None = None
) -> Listing:
    """One page of open resources matching `q` (the catalog's Chinese search: trigram full text, or a
    scan for one- and two-character terms), newest first within the search's ranking."""
    conds = [open_condition(), *Filters(q=q, org_id=org_id, category=category or None).conditions(db)]
    total = db.scalar(select(func.count()).select_from(Resource).where(*conds)) or 0
    stmt = select(Resource).where(*conds).order_by(Resource.published_at.desc(), Resource.id.desc())
    rows = list(db.scalars(stmt.offset(params.offset).limit(params.page_size)))
    return Listing(rows, total, providers(db, {r.org_id for r in rows}))


@dataclass
class Overview:
    total: int
    open: int
    conditional: int
    tables: int
    newest: Listing
    by_org: list[tuple[int, str, int]]
    by_class: list[tuple[str, str, int]]


def overview(db: Session, *, newest: int = 8) -> Overview:
    """The portal home's numbers: counts, the newest entries, and counts by provider and by class."""
    counts = dict(
        db.execute(
            select(Resource.open_type, func.count()).where(open_condition()).group_by(Resource.open_type)
        ).all()
    )
    tables = db.scalar(
        select(func.count())
        .select_from(Resource)
        .where(open_condition(), Resource.provision_method == "table")
    )
    by_org = [
        (i, n, c)
        for i, n, c in db.execute(
            select(Organisation.id, Organisation.name, func.count(Resource.id))
            .join(Resource, Resource.org_id == Organisation.id)
            .where(open_condition())
            .group_by(Organisation.id, Organisation.name)
            .order_by(func.count(Resource.id).desc(), Organisation.id)
        )
    ]
    by_class = [
        (code, name, c)
        for code, name, c in db.execute(
            select(CatalogClass.code, CatalogClass.name, func.count(Resource.id))
            .join(Resource, Resource.class_id == CatalogClass.id)
            .where(open_condition())
            .group_by(CatalogClass.code, CatalogClass.name)
            .order_by(CatalogClass.code)
        )
    ]
    latest = search(db, q=None, params=PageParams(page=1, page_size=newest)) if newest else Listing([], 0, {})
    return Overview(
        total=sum(counts.values()),
        open=counts.get("open", 0),
        conditional=counts.get("conditional", 0),
        tables=tables or 0,
        newest=latest,
        by_org=by_org,
        by_class=by_class,
    )


@dataclass
class OpenResource:
    """An open resource as the public sees it."""

    resource: Resource
    version: ResourceVersion
    provider: str
    category: str
    items: list[dict[str, Any]]  # shown (metadata access control applied)
    hidden: int  # items left out of `items`
    served: list[dict[str, Any]] = field(default_factory=list)  # items whose rows may be served
    masker: RowMasker | None = None

    @property
    def open_type(self) -> str:
        return self.version.open_type

    @property
    def is_table(self) -> bool:
        return self.resource.provision_method == "table"

    def masking(self) -> dict[str, str]:
        assert self.masker is not None
        return {i["name"]: self.masker.rules.get(i["name"], AS_IS_LABEL) for i in self.served}

    def filterable(self) -> dict[str, dict[str, Any]]:
        """Items the public may filter on: served as they are. Filtering on a masked item would let
        anyone test a clear value against it (is this person the representative of that firm?)."""
        rules = self.masking()
        return {i["name"]: i for i in self.served if rules[i["name"]] == AS_IS_LABEL}


def get(db: Session, *, resource_id: int) -> OpenResource:
    """The open resource `resource_id`; NotFound for anything not open (closed ones included)."""
    resource = db.scalar(select(Resource).where(Resource.id == resource_id, open_condition()))
    version = db.get(ResourceVersion, resource.published_version_id) if resource is not None else None
    if resource is None or version is None or version.open_type not in OPEN_TYPES:
        raise NotFound(
            "找不到该开放数据资源，它可能未开放或已撤销。", f"Open resource #{resource_id} not found."
        )
    shown = disclosure.shown_items(db, actor=Actor.anonymous(), resource=resource, items=version.items)
    scheme = classification.load(db)
    openable = [i for i in shown.items if scheme.of_item(i).openable]
    masker = row_masker(db, openable, masking_profile(db))
    served = [i for i in openable if i["name"] not in masker.dropped]
    cls = db.get(CatalogClass, resource.class_id)
    return OpenResource(
        resource=resource,
        version=version,
        provider=providers(db, {resource.org_id}).get(resource.org_id, ""),
        category=f"{cls.code} {cls.name}" if cls else "",
        items=shown.items,
        hidden=shown.hidden,
        served=served,
        masker=masker,
    )


# --- the Bureau's choice of masking profile -------------------------------------------------------


def masking_profile(db: Session) -> str:
    """The profile every open delivery uses: the Bureau's choice, else `GOVSHARE_OPEN_MASKING_PROFILE`."""
    chosen = db.get(OpenSetting, PROFILE_SETTING)
    return chosen.value if chosen is not None else get_settings().open_masking_profile


PERSONAL_KINDS = ("name", "id_number", "mobile", "bank_card")


def check_openable(name: str, levels: Mapping[str, Any], elements: Mapping[str, Any]) -> None:
    """Raise Invalid when a profile would open people's identifiers in clear: an L1 rule for a name,
    ID, phone or bank card that is `as_is`, or such a rule for a standard data element of one of
    those kinds (element rules override the level table). Checked when the profile is chosen for
    open data and whenever the profile in use is edited."""
    bare = {k for k in PERSONAL_KINDS if str(levels.get("L1", {}).get(k, "")).strip() == AS_IS}
    bare |= {
        ELEMENT_KINDS[code]
        for code, rule in elements.items()
        if ELEMENT_KINDS.get(code) in PERSONAL_KINDS and str(rule).strip() == AS_IS
    }
    if bare:
        raise Invalid(
            f"脱敏方案“{name}”对姓名、证件号码、电话号码或银行卡号原样提供，不能用于向社会开放的数据。"
            "请对这些类别脱敏（如“开放数据脱敏”方案）。",
            "The profile passes personal identifiers through.",
            details={"field": "profile", "kinds": sorted(bare)},
        )


def set_masking_profile(db: Session, *, actor: Actor, code: str) -> bool:
    """Choose the open-data masking profile (Bureau, `open.settings`); returns whether it changed.

    Raises Invalid for an unknown profile, or for one that passes L1 identifiers through as they
    are (open data goes to anyone: people's names and ID numbers are never opened in clear)."""
    require(actor, Action.open_settings)
    profile = db.scalar(select(MaskingProfile).where(MaskingProfile.code == code))
    if profile is None:
        raise Invalid(
            f"找不到脱敏方案“{code}”，请从列表中选择。", "Unknown profile.", details={"field": "profile"}
        )
    check_openable(profile.name, profile.levels, profile.elements)
    before = masking_profile(db)
    if before == code:
        return False
    row = db.get(OpenSetting, PROFILE_SETTING)
    if row is None:
        db.add(OpenSetting(key=PROFILE_SETTING, value=code, updated_by=actor.user_id))
    else:
        row.value, row.updated_by, row.updated_at = code, actor.user_id, utcnow()
    db.flush()
    audit.record(
        db,
        EventType.open_settings_changed,
        actor=actor,
        object_type="open_settings",
        object_id=PROFILE_SETTING,
        details={"before": before, "after": code},
    )
    return True


# --- rows ----------------------------------------------------------------------------------------


@dataclass
class Reading:
    """What a read of open rows starts from: the resource, the columns served and the store table."""

    shown: OpenResource
    columns: list[str]
    table: Table | None
    application: OpenApplication | None = None

    @property
    def resource(self) -> Resource:
        return self.shown.resource

    def cursor(self, key: str) -> str:
        sealed = seal(key, purpose="open-rows-cursor", context=str(self.resource.id))
        return base64.urlsafe_b64encode(sealed.encode()).decode().rstrip("=")

    def position(self, cursor: str | None) -> str | None:
        if not cursor:
            return None
        try:
            sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            return unseal(sealed, purpose="open-rows-cursor", context=str(self.resource.id))
        except (ValueError, SealError):
            raise Invalid(
                "cursor 无效：请使用本资源上一次返回的 next_cursor。",
                "Bad cursor.",
                details={"field": "cursor"},
            ) from None

    def values(self, found: list[Any]) -> list[dict[str, Any]]:
        """Rows `found` (`_key`, then the columns) masked, as the answer carries them."""
        if not found:
            return []
        assert self.shown.masker is not None
        columns = list(zip(*found, strict=True))[1:]
        masked = [
            json_column(self.shown.masker.column(name, list(values)))
            for name, values in zip(self.columns, columns, strict=True)
        ]
        return [dict(zip(self.columns, values, strict=True)) for values in zip(*masked, strict=True)]

    def page(self, filters: list[tuple[str, str, list[Any]]], after: str | None, size: int) -> Select[Any]:
        table = self.table
        assert table is not None
        stmt = select(table.c._key, *(table.c[c] for c in self.columns)).where(table.c._retired_at.is_(None))
        for item, op, values in filters:
            stmt = stmt.where(condition(table.c[item], op, values))
        if after is not None:
            stmt = stmt.where(table.c._key > after)
        return stmt.order_by(table.c._key).limit(size)

    def filters(
        self, query: list[tuple[str, str]]
    ) -> tuple[list[tuple[str, str, list[Any]]], dict[str, list[str]]]:
        """Equality filters `item=value` (repeat for several values) on items served as they are."""
        allowed = {n: i for n, i in self.shown.filterable().items() if n in self.columns}
        for name, _value in query:
            if name in RESERVED:
                continue
            if "__" in name or name not in allowed:
                names = "、".join(allowed) or "（无）"
                raise Invalid(
                    f"不能按“{name[:40]}”查询：开放数据只能按原样开放的信息项等值查询，可用：{names}。",
                    "Filter on an item that is not open as is.",
                    details={"field": name[:40]},
                )
        return parse_filters(query, allowed)


def reading_for(db: Session, *, resource_id: int, application: OpenApplication | None = None) -> Reading:
    """The reading of an open table resource's rows, for anyone (`open`) or for an approved
    applicant (`conditional`, `application` given). Raises NotFound, Forbidden or Invalid."""
    shown = get(db, resource_id=resource_id)
    if not shown.is_table:
        raise Invalid(
            "该资源不是库表类资源，没有数据行接口；请从资源页面获取文件或服务。", "Not a table resource."
        )
    served = [i["name"] for i in shown.served]
    if application is None:
        if shown.open_type != "open":
            raise Forbidden(
                "该资源为有条件开放，数据不向匿名用户提供。请在资源页面提交开放申请，获批后凭申请编号和查询码下载。",
                "Conditionally open: apply for access first.",
                details={"open_type": shown.open_type},
            )
        columns = served
    else:
        if application.resource_id != resource_id or application.status != "approved":
            raise Forbidden("该申请未获批准，不能下载数据。", "Application not approved.")
        if application.valid_until is None or application.valid_until < beijing_today():
            raise Forbidden(
                f"该申请的使用期限已于 {application.valid_until} 届满，不能再下载数据；"
                "如需继续使用请重新申请。",
                "The approval has expired.",
                details={"valid_until": str(application.valid_until)},
            )
        columns = [n for n in served if n in application.approved_items]
    items = (db.get(ResourceVersion, shown.resource.published_version_id) or shown.version).items
    table = store.table_for(db, shown.resource.id, items) if store.exists(db, shown.resource.id) else None
    return Reading(shown, columns, table, application)


def _limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(
            f"limit 应在 1 到 {MAX_LIMIT} 之间。", "limit out of range.", details={"field": "limit"}
        )


@dataclass
class Rows:
    resource: Resource
    columns: list[str]
    rows: list[dict[str, Any]]
    next_cursor: str | None
    masking: dict[str, str]
    sm3: str
    rows_json: bytes
    filters: dict[str, list[str]]


@dataclass(frozen=True)
class Target:
    """What an audit event of a delivery names, as plain values (written after the reads)."""

    resource_id: int
    org_id: int
    columns: tuple[str, ...]
    profile: str | None
    application_id: int | None = None
    application: str | None = None

    @classmethod
    def of(cls, reading: Reading) -> Target:
        app = reading.application
        return cls(
            reading.resource.id,
            reading.resource.org_id,
            tuple(reading.columns),
            reading.shown.masker.profile_code if reading.shown.masker else None,
            app.id if app is not None else None,
            app.number if app is not None else None,
        )


def _audited(
    db: Session, *, actor: Actor, target: Target, channel: str, count: int, digest: str, **details: Any
) -> None:
    """Record one delivery to the public (after the reads: `db.later`); an applicant's download
    also counts on the application."""
    event = {
        "channel": channel,
        "fields": list(target.columns),
        "rows": count,
        "sm3": digest,
        "masking_profile": target.profile,
        **({"application": target.application} if target.application else {}),
        **details,
    }

    def write(w: Writes) -> None:
        audit.record(
            w,
            EventType.open_data_delivered,
            actor=actor,
            object_type="resources",
            object_id=target.resource_id,
            org_id=target.org_id,
            details=event,
        )
        if target.application_id is not None:
            w.execute(
                update(OpenApplication)
                .where(OpenApplication.id == target.application_id)
                .values(downloads=OpenApplication.downloads + 1)
                .execution_options(synchronize_session=False)
            )

    later(db, write)


def read_rows(
    db: Session,
    *,
    actor: Actor,
    resource_id: int,
    query: list[tuple[str, str]],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    channel: str = "rows",
) -> Rows:
    """A page of masked live rows of an unconditionally open table resource, in key order."""
    reading = reading_for(db, resource_id=resource_id)
    _limit(limit)
    after = reading.position(cursor)
    filters, shown = reading.filters(query)
    rows: list[dict[str, Any]] = []
    next_cursor = None
    if reading.table is not None and reading.columns:
        found = list(db.execute(reading.page(filters, after, limit + 1)).all())
        if len(found) > limit:
            found = found[:limit]
            next_cursor = reading.cursor(found[-1]._key)
        rows = reading.values(found)
    text = rows_json(rows)
    digest = sm3_hex(text)
    _audited(
        db,
        actor=actor,
        target=Target.of(reading),
        channel=channel,
        count=len(rows),
        digest=digest,
        filters=shown,
    )
    return Rows(
        reading.resource, reading.columns, rows, next_cursor, reading.shown.masking(), digest, text, shown
    )


def preview(db: Session, *, actor: Actor, shown: OpenResource) -> Rows | None:
    """The first rows of an unconditionally open table resource for its page (audited like any
    delivery); None when there is nothing to preview (not a table, not unconditional)."""
    if not shown.is_table or shown.open_type != "open":
        return None
    return read_rows(
        db, actor=actor, resource_id=shown.resource.id, query=[], limit=PREVIEW_ROWS, channel="preview"
    )


# --- whole downloads -----------------------------------------------------------------------------

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Invalid("format 只能为 json 或 csv。", "format: json or csv.", details={"field": "format"})
    return fmt


def csv_text(columns: list[str], rows: list[dict[str, Any]], *, header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue()


def stream(
    reads: Callable[[], AbstractContextManager[Session]],
    unit: Callable[[], AbstractContextManager[Session]],
    *,
    actor: Actor,
    resource_id: int,
    fmt: str,
    query: list[tuple[str, str]],
    application_id: int | None = None,
) -> Iterator[bytes]:
    """The whole dataset (masked, filtered) as CSV or JSON, read in keyset pages so memory stays flat.

    Check the request first with `reading_for` in the request's own unit of work: this generator
    runs while the answer is sent. The delivery is audited when the stream ends — also when the
    client goes away half-way, then with the rows sent so far and `complete: false`."""
    hasher = hashes.Hash(hashes.SM3())
    count, complete = 0, False
    target: Target | None = None
    shown_filters: dict[str, list[str]] = {}

    def emit(text: str) -> bytes:
        data = text.encode()
        hasher.update(data)
        return data

    try:
        with reads() as db:
            application = db.get(OpenApplication, application_id) if application_id is not None else None
            reading = reading_for(db, resource_id=resource_id, application=application)
            filters, shown_filters = reading.filters(query)
            target = Target.of(reading)
            yield emit("\ufeff" + csv_text(reading.columns, [], header=True) if fmt == "csv" else "[")
            after: str | None = None
            first = True
            while reading.table is not None and reading.columns:
                found = list(db.execute(reading.page(filters, after, DOWNLOAD_PAGE)).all())
                rows = reading.values(found)
                if rows:
                    if fmt == "csv":
                        yield emit(csv_text(reading.columns, rows, header=False))
                    else:
                        body = ",".join(
                            json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows
                        )
                        yield emit(body if first else "," + body)
                        first = False
                    count += len(rows)
                if len(found) < DOWNLOAD_PAGE:
                    break
                after = found[-1]._key
            if fmt == "json":
                yield emit("]")
            complete = True
    finally:
        if target is not None:
            with unit() as w:
                _audited(
                    w,
                    actor=actor,
                    target=target,
                    channel=f"download.{fmt}",
                    count=count,
                    digest=hasher.finalize().hex(),
                    filters=shown_filters,
                    complete=complete,
                )


def download_name(resource: Resource, fmt: str, stamp: date | None = None) -> str:
    return f"{resource.code}-{(stamp or beijing_today()).isoformat()}.{fmt}"


def served_titles(shown: OpenResource, names: list[str]) -> Mapping[str, str]:
    titles = {i["name"]: i.get("title") or i["name"] for i in shown.items}
    return {n: titles.get(n, n) for n in names}
