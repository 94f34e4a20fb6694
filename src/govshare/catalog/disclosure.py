"""Metadata access control (元数据访问控制, S9): the one place that decides which of an entry's items
a caller may see.

An item is *restricted* when its level's controls say so (`classification.scheme`, by default 核心数据
and L4). A restricted item is shown only to those who need it:

- the owning department's catalog roles and its metadata administrator, Bureau reviewers and
  administrators and the Bureau's metadata administrator (`Action.catalog_view_sensitive`);
- a consuming department holding an active grant that covers the item;
- the operator (CLI).

Everyone else — other departments, anonymous and public views, DCAT, workbook exports, search — gets
the entry without those items and a count of how many were left out. Every path that shows items
calls `for_actor` (or, for many entries, `Viewer.of`) and shows `Shown.items` and `Shown.hidden`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed
from govshare.catalog.models import Resource
from govshare.classification import scheme as classification
from govshare.db import utcnow


@dataclass(frozen=True)
class Shown:
    items: list[dict[str, Any]]
    hidden: int


@dataclass(frozen=True)
class Disclosure:
    """What one caller may see of one entry's items."""

    levels: classification.Scheme
    everything: bool
    covered: frozenset[str]

    def shown(self, items: Iterable[Mapping[str, Any]]) -> Shown:
        kept: list[dict[str, Any]] = []
        hidden = 0
        for item in items:
            if self.everything or item.get("name") in self.covered or not self.levels.restricted(item):
                kept.append(dict(item))
            else:
                hidden += 1
        return Shown(kept, hidden)


class Viewer:
    """One caller's view of many entries (a list, an export): the scheme and the caller's grants are
    loaded once."""

    def __init__(self, db: Session, actor: Actor, levels: classification.Scheme | None = None) -> None:
        self.db = db
        self.actor = actor
        self.levels = levels or classification.load(db)
        self._grants: dict[int, set[str]] | None = None

    def _covered(self, resource_id: int) -> frozenset[str]:
        if not self.actor.is_authenticated or self.actor.org_id is None:
            return frozenset()
        if self._grants is None:
            from govshare.sharing.models import Grant

            now = utcnow()
            self._grants = {}
            for resource, items in self.db.execute(
                select(Grant.resource_id, Grant.items).where(
                    Grant.org_id == self.actor.org_id,
                    Grant.status == "active",
                    Grant.valid_from <= now,
                    Grant.valid_until > now,
                )
            ):
                self._grants.setdefault(resource, set()).update(items)
        return frozenset(self._grants.get(resource_id, ()))

    def of(self, resource: Resource) -> Disclosure:
        actor = self.actor
        if actor.kind == "operator" or (
            actor.is_authenticated and allowed(actor, Action.catalog_view_sensitive, resource)
        ):
            return Disclosure(self.levels, True, frozenset())
        return Disclosure(self.levels, False, self._covered(resource.id))


def for_actor(db: Session, *, actor: Actor, resource: Resource) -> Disclosure:
    return Viewer(db, actor).of(resource)


def shown_items(
    db: Session, *, actor: Actor, resource: Resource, items: Sequence[Mapping[str, Any]]
) -> Shown:
    return for_actor(db, actor=actor, resource=resource).shown(items)
