"""The Bureau's masking profiles in the database, and the row masker every delivery uses (S23).

Everyone logged in reads the profiles (they say what a consumer receives); only the Bureau
(`masking.manage`) creates and edits them, each change audited with the content before and after.
`row_masker` is the call of the sharing module: it loads one profile and compiles it for the
items being delivered, so each row then costs one dict and one call per masked value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, require
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.masking.models import MaskingProfile
from govshare.masking.profiles import DEFAULT_PROFILE, Profile, RowMasker, builtin
from govshare.masking.rules import MaskingError, pseudonym_key
from govshare.masking.schemas import CODE_PATTERN, PreviewIn, PreviewOut, ProfileIn

__all__ = [
    "by_code",
    "get_profile",
    "list_profiles",
    "load_profile",
    "preview",
    "row_masker",
    "save_profile",
]


def _content(profile: MaskingProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "description": profile.description,
        "levels": profile.levels,
        "elements": profile.elements,
    }


def list_profiles(db: Session, *, actor: Actor) -> list[MaskingProfile]:
    """Every profile, built-in ones first."""
    require(actor, Action.masking_view)
    return list(
        db.scalars(select(MaskingProfile).order_by(MaskingProfile.builtin.desc(), MaskingProfile.code))
    )


def by_code(db: Session, code: str) -> MaskingProfile | None:
    return db.scalar(select(MaskingProfile).where(MaskingProfile.code == code))


def get_profile(db: Session, *, actor: Actor, code: str) -> MaskingProfile:
    require(actor, Action.masking_view)
    profile = by_code(db, code)
    if profile is None:
        raise NotFound(f"找不到脱敏方案“{code}”。", f"Masking profile {code!r} not found.")
    return profile


def _parsed(code: str, name: str, levels: Mapping[str, Any], elements: Mapping[str, Any]) -> Profile:
    try:
        return Profile.parse(code, name, levels, elements)
    except MaskingError as exc:
        raise Invalid(f"脱敏方案有误：{exc}", f"Invalid masking profile: {exc}") from None


def save_profile(db: Session, *, actor: Actor, code: str, data: ProfileIn) -> tuple[MaskingProfile, bool]:
    """Create profile `code`, or replace its name, description and rules; returns (profile, created).

    Raises Invalid for a wrong code or rule (the message names the cell), Conflict for a name
    another profile has or for an edit based on a stale `version`.
    """
    require(actor, Action.masking_manage)
    if not re.fullmatch(CODE_PATTERN, code):
        raise Invalid(
            "方案编码应以小写字母开头，只含小写字母、数字、“-”和“_”，共 2 至 32 位。",
            "code: lower-case letter, then letters, digits, - or _ (2-32).",
            details={"field": "code"},
        )
    _parsed(code, data.name, data.levels, data.elements)
    from govshare.opendata import service as opendata  # (it imports this module)

    if code == opendata.masking_profile(db):  # the public gets what this profile leaves
        opendata.check_openable(data.name, data.levels, data.elements)
    profile = by_code(db, code)
    other = db.scalar(select(MaskingProfile.code).where(MaskingProfile.name == data.name))
    if other is not None and other != code:
        raise Conflict(
            f"方案名称“{data.name}”已被方案 {other} 使用，请换一个名称。",
            "name already in use.",
            details={"field": "name"},
        )
    after = {
        "name": data.name,
        "description": data.description,
        "levels": data.levels,
        "elements": data.elements,
    }
    if profile is None:
        profile = MaskingProfile(code=code, builtin=False, updated_by=actor.user_id, **after)
        db.add(profile)
        db.flush()
        audit.record(
            db,
            EventType.masking_profile_created,
            actor=actor,
            obj=profile,
            details={"code": code, "after": after},
        )
        return profile, True
    if data.version is not None and data.version != profile.version:
        raise Conflict(
            "该脱敏方案已被他人修改，请刷新后重新编辑。",
            "The profile was changed by someone else.",
            details={"current_version": profile.version},
        )
    before = _content(profile)
    if before == after:
        return profile, False
    for key, value in after.items():
        setattr(profile, key, value)
    profile.updated_by = actor.user_id
    profile.updated_at = utcnow()
    db.flush()
    audit.record(
        db,
        EventType.masking_profile_updated,
        actor=actor,
        obj=profile,
        details={"code": code, "version": profile.version, "before": before, "after": after},
    )
    return profile, False


def load_profile(db: Session, code: str | None = None) -> Profile:
    """Profile `code` (None: the default profile, 标准脱敏), checked and ready to compile.

    No actor: the caller has already decided that the data may be delivered (a grant); this only
    decides how it is masked. Raises NotFound for an unknown code (the delivery must not go ahead).
    """
    wanted = code or DEFAULT_PROFILE
    row = by_code(db, wanted)
    if row is not None:
        return _parsed(row.code, row.name, row.levels, row.elements)
    default = builtin(wanted) if wanted == DEFAULT_PROFILE else None
    if default is None:
        raise NotFound(f"找不到脱敏方案“{wanted}”，数据不能交付。", f"Masking profile {wanted!r} not found.")
    return _parsed(default.code, default.name, default.levels, default.elements)


# Compiled maskers by profile code and content and by items: every data API call needs one, and
# keyed by the rules themselves a cached masker can never be that of another edit of the profile.
_MASKERS: dict[tuple[str, str, str, bytes], RowMasker] = {}
_MASKERS_MAX = 512


def clear_maskers() -> None:
    """Forget every compiled masker (after a destruction: nothing cached outlives the data)."""
    _MASKERS.clear()


def row_masker(db: Session, items: Sequence[Mapping[str, Any]], profile_code: str | None = None) -> RowMasker:
    """The masker of rows of `items` (catalog item dicts) under profile `profile_code` (None: the
    default). Raises NotFound for an unknown profile and Invalid for an item of an unknown level."""
    wanted = profile_code or DEFAULT_PROFILE
    row = db.execute(
        select(MaskingProfile.levels, MaskingProfile.elements).where(MaskingProfile.code == wanted)
    ).first()
    rules = "" if row is None else json.dumps([row.levels, row.elements], sort_keys=True)
    # The pseudonym key (from the master key) is part of what a compiled masker holds.
    key = (wanted, rules, json.dumps(items, sort_keys=True, default=str), pseudonym_key())
    masker = _MASKERS.get(key)
    if masker is None:
        profile = load_profile(db, profile_code)
        try:
            masker = RowMasker.compile(profile, items)
        except MaskingError as exc:
            raise Invalid(str(exc), "An item cannot be masked.") from None
        if len(_MASKERS) >= _MASKERS_MAX:
            _MASKERS.clear()
        _MASKERS[key] = masker
    return masker


def preview(db: Session, *, actor: Actor, data: PreviewIn) -> PreviewOut:
    """The rows as a consumer would receive them under a profile, for the Bureau to try it.

    Bureau only, and audited: with pseudonym rules a preview computes keyed pseudonyms of any value
    given, which is what the key exists to prevent others from doing.
    """
    require(actor, Action.masking_manage)
    items = [item.model_dump(mode="json") for item in data.items]
    masker = row_masker(db, items, data.profile)
    rows = [masker(row) for row in data.rows]
    audit.record(
        db,
        EventType.masking_previewed,
        actor=actor,
        object_type="masking_profile",
        object_id=masker.profile_code,
        details={"profile": masker.profile_code, "items": len(items), "rows": len(rows)},
    )
    return PreviewOut(
        profile=masker.profile_code, rules=masker.rules, dropped=sorted(masker.dropped), rows=rows
    )
