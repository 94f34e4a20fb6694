"""Login and logout pages, the home page (工作台) and the password page."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from govshare.auth import service
from govshare.crypto import constant_time_equal
from govshare.errors import DomainError, Invalid
from govshare.settings import get_settings
from govshare.tasks import service as tasks
from govshare.users import service as users
from govshare.web.deps import (
    DB,
    SESSION_COOKIE,
    CurrentActor,
    MaybeActor,
    client_ip,
    for_temporary_password,
    public,
)
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "govshare_login_csrf"


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never an absolute URL or a protocol-relative '//host'.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
@public
def login_page(request: Request, actor: MaybeActor, next: str | None = None) -> Response:
    if actor.is_authenticated:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, next=_safe_next(next))


def _login_form(
    request: Request, *, next: str, error: str | None = None, username: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "auth/login.html",
        {"next": next, "error": error, "username": username, "login_csrf": token},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=get_settings().cookies_secure,
        path="/login",
    )
    return response


@router.post("/login")
@public
def login_submit(
    request: Request,
    db: DB,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=128)],
    login_csrf: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Form login; the double-submit cookie stops a foreign site from logging a victim in."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not constant_time_equal(cookie, login_csrf):
        return _login_form(
            request,
            next=_safe_next(next),
            username=username,
            error="登录页面已过期，请重新输入后登录。",
            status=400,
        )
    try:
        result = service.login(
            db, username=username.strip(), password=password, ip=client_ip(request), kind="ui"
        )
    except DomainError as exc:
        # Returning normally lets the unit of work commit the failure count and its audit event.
        return _login_form(
            request, next=_safe_next(next), username=username, error=exc.message, status=exc.status
        )
    target = "/password" if result.user.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        samesite="lax",
        secure=settings.cookies_secure,
        max_age=settings.session_hours * 3600,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
@for_temporary_password
def logout(actor: CurrentActor, db: DB) -> Response:
    service.logout(db, actor=actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, actor: CurrentActor, db: DB) -> Response:
    user = users.find_by_username(db, actor.name) if actor.kind == "user" else None
    return render(request, "auth/home.html", {"tasks": tasks.open_tasks_for(db, actor=actor), "user": user})


@router.get("/password", response_class=HTMLResponse)
@for_temporary_password
def password_page(request: Request, actor: CurrentActor) -> Response:
    return render(request, "auth/password.html", {"done": False})


@router.post("/password", response_class=HTMLResponse)
@for_temporary_password
def password_submit(
    request: Request,
    actor: CurrentActor,
    db: DB,
    current_password: Annotated[str, Form(max_length=128)],
    new_password: Annotated[str, Form(max_length=128)],
    confirm_password: Annotated[str, Form(max_length=128)],
) -> Response:
    if new_password != confirm_password:
        raise Invalid(
            "两次输入的新密码不一致。", "The passwords do not match.", details={"field": "confirm_password"}
        )
    users.change_own_password(db, actor=actor, current=current_password, new=new_password)
    return render(request, "auth/password.html", {"done": True})
