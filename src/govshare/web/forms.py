"""What every HTML form and list page does the same way: read filter values, answer a POST with a
redirect, build the pagination variables, and turn a refusal into the message the form shows again.

Only refusals a person can fix by changing the input come back on the form (`FIXABLE`); Forbidden
and NotFound go to the one error handler instead, which also records denied attempts in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from govshare.errors import Conflict, DomainError, Invalid
from govshare.pagination import PageParams, page_count

E = TypeVar("E", bound=StrEnum)

FIXABLE = (ValidationError, Invalid, Conflict)


def see_other(url: str) -> Response:
    """The redirect after a successful POST (Post/Redirect/Get)."""
    return RedirectResponse(url, status_code=303)


def parse_enum(enum: type[E], value: str) -> E | None:
    """A filter value from a query string; empty or unknown means "no filter"."""
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def parse_int(value: str) -> int | None:
    """An id from a query string or a select; anything but decimal digits means "none"."""
    value = value.strip()
    return int(value) if value.isdecimal() else None


def optional(value: str) -> str | None:
    """A text field left blank means "not given"."""
    return value.strip() or None


def changed(obj: object, submitted: Mapping[str, Any]) -> dict[str, Any]:
    """The submitted values that differ from `obj`'s, so that an edit form sends the service only
    what the person changed: an untouched field is neither checked (and warned about) nor audited again.
    """
    return {key: value for key, value in submitted.items() if value != getattr(obj, key)}


def page_context(params: PageParams, total: int, **filters: object) -> dict[str, Any]:
    """Variables for `_pagination.html`; `base` keeps the list's filters on the page links."""
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    return {
        "page": params.page,
        "pages": page_count(total, params.page_size),
        "total": total,
        "base": urlencode(kept) + "&" if kept else "",
    }


def is_stale(error: Exception) -> bool:
    """Whether a service refused an edit because it was based on an outdated version."""
    return (
        isinstance(error, Conflict) and isinstance(error.details, dict) and "current_version" in error.details
    )


# Field descriptions for `problem_message`: (label, hint), or one sentence for any problem.
Fields = Mapping[str, tuple[str, str] | str]

_PROBLEMS = {
    "missing": "必填",
    "int_parsing": "请从列表中选择",
    "int_type": "请从列表中选择",
    "enum": "请从列表中选择",
    "bool_parsing": "请选择是或否",
    "bool_type": "请选择是或否",
    "list_type": "请从列表中选择",
    "extra_forbidden": "不允许的字段",
}


def problem_message(exc: ValidationError, fields: Fields) -> str:
    """One sentence naming each wrong field and what it should look like.

    `fields` describes a schema field either by (label, hint), giving "label：problem", where the
    hint replaces the generic problem for a wrong value other than an empty one (so it should say
    what a right value looks like); or by one sentence, shown for any problem with that field. A
    schema validator's own message (a `ValueError`, written in Chinese) is shown as it is.
    """
    problems: list[str] = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        field = fields.get(name, (name, ""))
        kind = error["type"]
        if kind == "value_error":
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        if isinstance(field, str):
            problems.append(field)
            continue
        label, hint = field
        if kind == "string_too_short" and not str(error.get("input", "")).strip():
            problem = "不能为空"
        elif hint:
            problem = hint
        elif kind == "string_too_long":
            problem = f"不能超过 {error.get('ctx', {}).get('max_length', '')} 个字符"
        else:
            problem = _PROBLEMS.get(kind, "取值不正确")
        problems.append(f"{label}：{problem}")
    return "提交的内容有误，请修改后重试：" + "；".join(dict.fromkeys(problems)) + "。"


def refusal(exc: ValidationError | DomainError, fields: Fields) -> tuple[str, int]:
    """The message and status a refused form comes back with (see `FIXABLE`)."""
    if isinstance(exc, ValidationError):
        return problem_message(exc, fields), 422
    return exc.message, exc.status
