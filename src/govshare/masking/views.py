"""The masking page (/admin/masking): every logged-in person sees what each profile does; the Bureau
edits the level × kind table with selects, adds profiles and tries one on sample values of the demo
city's items (the preview is the service's, audited like the API's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.demo.catalog import ITEMS
from govshare.errors import Conflict, Invalid
from govshare.masking import service
from govshare.masking.models import MaskingProfile
from govshare.masking.profiles import AS_IS, KINDS, LEVELS, builtin, kind_of, label, parse_choice
from govshare.masking.rules import MaskingError
from govshare.masking.schemas import PreviewIn, ProfileIn
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import Fields, is_stale, refusal, see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

# The rules the selects offer; a rule written through the API that is not here is offered too.
CHOICES = [
    AS_IS,
    "name",
    "id_number",
    "mobile",
    "bank_card",
    "address",
    "keep(1,0)",
    "keep(1,1)",
    "keep(2,2)",
    "keep(3,4)",
    "date_month",
    "date_year",
    "region(4)",
    "region(2)",
    "nullify",
    "pseudonym",
]
PROFILE_FIELDS: Fields = {
    "name": ("方案名称", "应为 2 至 64 个字符"),
    "description": ("方案说明", "不能超过 1000 个字符"),
    "elements": "数据元规则最多 200 条",
}
LEVEL_LABELS = {"L1": "L1 一般", "L2": "L2 较敏感", "L3": "L3 敏感"}

# Sample values of the demo city's items (plus a bank card and an L4 item the demo has none of).
SAMPLE_ITEMS: list[dict[str, Any]] = [
    {
        "name": name,
        "title": title,
        "data_type": data_type,
        "length": length,
        "sensitivity": level,
        "element": el,
    }
    for name, (title, data_type, length, level, el) in ITEMS.items()
    if name
    in ("id_number", "name", "birth_date", "mobile", "address", "region_code", "plate_number", "phone")
] + [
    {
        "name": "bank_card",
        "title": "银行卡号",
        "data_type": "C",
        "length": 19,
        "sensitivity": "L3",
        "element": None,
    },
    {
        "name": "diagnosis",
        "title": "诊断结论",
        "data_type": "C",
        "length": 200,
        "sensitivity": "L4",
        "element": None,
    },
]
SAMPLE_VALUES = {
    "id_number": "130102198503177718",
    "name": "欧阳娜娜",
    "birth_date": "1985-03-17",
    "mobile": "+86 139 1234 5678",
    "address": "河北省石家庄市长安区中山东路39号",
    "region_code": "130102",
    "plate_number": "冀A12345",
    "phone": "0311-86012345",
    "bank_card": "6222021234567890123",
    "diagnosis": "（示例）病历内容",
}


def _matrix(profile: MaskingProfile) -> list[dict[str, Any]]:
    """What the page shows of a profile: per level, per kind, the rule and what it does."""
    rows = []
    for level in LEVELS:
        cells = {}
        for kind in KINDS:
            text = profile.levels.get(level, {}).get(kind, "")
            try:
                cells[kind] = {"rule": text, "label": label(parse_choice(text))}
            except MaskingError:
                cells[kind] = {"rule": text, "label": "（规则有误）"}
        rows.append({"level": level, "label": LEVEL_LABELS[level], "cells": cells})
    return rows


def _element_lines(elements: dict[str, str]) -> str:
    return "\n".join(f"{code} = {rule}" for code, rule in elements.items())


def _parse_elements(text: str) -> dict[str, str]:
    elements: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        code, sep, rule = line.partition("=")
        if not sep or not code.strip() or not rule.strip():
            raise Invalid(
                f"数据元规则第 {number} 行应写成“数据元编码 = 规则”，例如 DE0001 = pseudonym。",
                "elements: one 'CODE = rule' per line.",
            )
        elements[code.strip()] = rule.strip()
    return elements


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    editing: str | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    stale: bool = False,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    profiles = service.list_profiles(db, actor=actor)
    manage = allowed(actor, Action.masking_manage)
    return render(
        request,
        "masking/profiles.html",
        {
            "profiles": [{"row": p, "matrix": _matrix(p)} for p in profiles],
            "kinds": KINDS,
            "levels": LEVELS,
            "level_labels": LEVEL_LABELS,
            "choices": [(c, label(parse_choice(c))) for c in CHOICES],
            "manage": manage,
            "editing": editing,
            "form": form,
            "error": error,
            "stale": stale,
            "reload": f"/admin/masking?edit={editing}" if editing else "/admin/masking",
            "notice": notice,
            "samples": [
                {**item, "kind": KINDS[kind_of(item)], "value": SAMPLE_VALUES[item["name"]]}
                for item in SAMPLE_ITEMS
            ],
        },
        status_code=status,
    )


def _form_of(profile: MaskingProfile | None, code: str = "") -> dict[str, Any]:
    source: Any = profile if profile is not None else builtin("standard")
    return {
        "code": profile.code if profile is not None else code,
        "name": profile.name if profile is not None else "",
        "description": profile.description if profile is not None else "",
        "levels": {level: dict(source.levels[level]) for level in LEVELS},
        "elements": _element_lines(dict(source.elements)),
        "version": profile.version if profile is not None else "",
        "new": profile is None,
    }


@router.get("/admin/masking", response_class=HTMLResponse)
def masking_page(
    request: Request,
    actor: CurrentActor,
    db: DB,
    edit: Annotated[str, Query(max_length=32)] = "",
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    require(actor, Action.masking_view)
    form = None
    editing = None
    if edit and allowed(actor, Action.masking_manage):
        editing = edit
        existing = None if edit == "new" else service.get_profile(db, actor=actor, code=editing)
        form = _form_of(existing)
    notice = {"saved": "脱敏方案已保存。", "created": "脱敏方案已新建。"}.get(done)
    return _page(request, db, actor, editing=editing, form=form, notice=notice)


async def _levels_from(request: Request) -> dict[str, dict[str, str]]:
    submitted = await request.form()
    levels: dict[str, dict[str, str]] = {}
    for level in LEVELS:
        levels[level] = {}
        for kind in KINDS:
            value = submitted.get(f"rule_{level}_{kind}")
            levels[level][kind] = value[:64] if isinstance(value, str) else ""
    return levels


@router.post("/admin/masking/save", response_class=HTMLResponse)
async def masking_save(
    request: Request,
    actor: CurrentActor,
    db: DB,
    code: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=1000)] = "",
    elements: Annotated[str, Form(max_length=8000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    new: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    require(actor, Action.masking_manage)
    levels = await _levels_from(request)
    form = {
        "code": code,
        "name": name,
        "description": description,
        "levels": levels,
        "elements": elements,
        "version": version,
        "new": new == "1",
    }
    try:
        if new == "1" and code and service.by_code(db, code.strip()) is not None:
            raise Conflict(f"方案编码“{code}”已被使用，请换一个编码。", "code already in use.")
        data = ProfileIn.model_validate(
            {
                "name": name,
                "description": description,
                "levels": levels,
                "elements": _parse_elements(elements),
                "version": int(version) if version.isdecimal() else None,
            }
        )
        with db.begin_nested():
            _profile, created = service.save_profile(db, actor=actor, code=code.strip(), data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        error, status = refusal(exc, PROFILE_FIELDS)
        stale = is_stale(exc)
        return _page(
            request, db, actor, editing=code or "new", form=form, error=error, stale=stale, status=status
        )
    return see_other(f"/admin/masking?done={'created' if created else 'saved'}#profile-{code.strip()}")


@router.post("/admin/masking/preview", response_class=HTMLResponse)
async def masking_preview(
    request: Request, actor: CurrentActor, db: DB, profile: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    """The sample row as a consumer would receive it (an HTMX fragment)."""
    submitted = await request.form()
    row = {}
    for item in SAMPLE_ITEMS:
        value = submitted.get(f"value_{item['name']}")
        row[item["name"]] = value[:200] if isinstance(value, str) and value != "" else None
    result = service.preview(
        db,
        actor=actor,
        data=PreviewIn.model_validate({"profile": profile or None, "items": SAMPLE_ITEMS, "rows": [row]}),
    )
    return render(
        request,
        "masking/_preview.html",
        {"items": SAMPLE_ITEMS, "original": row, "result": result, "masked": result.rows[0]},
    )
