"""Request dependencies: the unit of work, the caller's address, the acting person or system.

Every route depends on `CurrentActor` (protected), authenticates in its own unit of work
(`@own_unit`, the data API) or is decorated with `@public`; the route walk in
`tests/web/test_routes.py` fails for any route that is none of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from govshare.auth import service as auth
from govshare.authz import Actor
from govshare.db import Deferred, NeedsThread
from govshare.errors import Forbidden, PasswordChangeRequired, Unauthorized
from govshare.settings import get_settings
from govshare.web.middleware import give_turn

SESSION_COOKIE = "govshare_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def public(endpoint: F) -> F:
    """Mark a route as deliberately open to anonymous callers."""
    endpoint.__govshare_public__ = True  # type: ignore[attr-defined]
    return endpoint


def is_public(endpoint: Callable[..., Any]) -> bool:
    return getattr(endpoint, "__govshare_public__", False) is True


def own_unit(endpoint: F) -> F:
    """Mark a route that opens its own unit of work and authenticates its caller in it
    (`in_own_unit`) instead of depending on `DB` and `CurrentActor`: the data API, whose calls would
    otherwise hand off between threads four times. The route walk counts it as protected and checks
    that it refuses anonymous callers like any other."""
    endpoint.__govshare_own_unit__ = True  # type: ignore[attr-defined]
    return endpoint


def has_own_unit(endpoint: Callable[..., Any]) -> bool:
    return getattr(endpoint, "__govshare_own_unit__", False) is True


def for_temporary_password(endpoint: F) -> F:
    """Mark a route that a person signed in with a temporary password may use: changing it,
    signing out, who am I. Every other route answers them `PasswordChangeRequired` (a page
    redirects to the form)."""
    endpoint.__govshare_temporary_password__ = True  # type: ignore[attr-defined]
    return endpoint


def _for_temporary_password(endpoint: Callable[..., Any] | None) -> bool:
    return getattr(endpoint, "__govshare_temporary_password__", False) is True


def reads_first(endpoint: F) -> F:
    """Mark a route whose unit of work reads first and writes what it did afterwards (`db.reads_first`:
    no write lock while it reads; services register their writes with `db.later`)."""
    endpoint.__govshare_reads_first__ = True  # type: ignore[attr-defined]
    return endpoint


def get_db(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed after the route returns, before the response is sent."""
    route = request.scope.get("route")
    marked = getattr(getattr(route, "endpoint", None), "__govshare_reads_first__", False)
    unit = request.app.state.reads_first if marked else request.app.state.unit_of_work
    with unit() as session:
        yield session


async def in_own_unit(request: Request, work: Callable[[Session, Actor], T]) -> T:
    """`work(db, actor)` in a `reads_first` unit of work (reads under a snapshot, then the writes
    registered with `later`, committed before this returns), the caller authenticated in it as
    `current_actor` would.

    First on the event loop's own thread (`reads_first(inline=True)`): a call whose token and grant
    are cached makes three short statements (the cache generation, its page, its record) and hands
    off to no thread, which took a fifth of its CPU (docs/architecture.md). A call that needs the
    session (a cache that missed, a person's token) stops there, having read nothing through it
    and written nothing (`NeedsThread`), and runs again in a worker thread, one hand-off: there,
    between its reads and its writes, a call to PostgreSQL gives up its turn (`Admission`; the
    event loop is told without waiting for it) while its writes commit."""
    try:
        return _in_unit(request, work, inline=True)
    except NeedsThread:
        pass
    loop = asyncio.get_running_loop()

    def give_turn_now() -> None:
        with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile has no turns
            loop.call_soon_threadsafe(give_turn, request.scope)

    return await run_in_threadpool(_in_unit, request, work, inline=False, before_commit=give_turn_now)


def _in_unit(
    request: Request,
    work: Callable[[Session, Actor], T],
    *,
    inline: bool,
    before_commit: Callable[[], None] | None = None,
) -> T:
    deferred = Deferred()
    try:
        with request.app.state.reads_first(deferred, inline) as db:
            return work(db, actor_for(request, db, None))
    finally:
        if deferred:  # (a refusal's writes, `keep_changes`, were written as it ended)
            # SQLite commits in this process, as CPU work under the interpreter lock: there the
            # call keeps its turn (two at once took 15-25 % more CPU a call, bench/README.md).
            if before_commit is not None and not deferred.in_process:
                before_commit()
            deferred.commit()


DB = Annotated[Session, Depends(get_db, scope="function")]


def client_ip(request: Request) -> str | None:
    """The caller's address; `X-Forwarded-For` is believed only from configured trusted proxies."""
    host = request.client.host if request.client else None
    proxies = get_settings().trusted_proxies
    if not host or not proxies or not _in_any(host, proxies):
        return host
    forwarded = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(forwarded):
        if not _in_any(hop, proxies):
            return hop
    return host


def _in_any(ip: str, cidrs: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(c, strict=False) for c in cidrs)


async def presented_csrf(request: Request) -> str | None:
    """The CSRF token sent with an unsafe cookie request, from the header or the form body."""
    if request.method in SAFE_METHODS or "authorization" in request.headers:
        return None
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def current_actor(request: Request, db: DB, csrf: Annotated[str | None, Depends(presented_csrf)]) -> Actor:
    """Authenticate the caller by bearer token or session cookie; raises Unauthorized or Forbidden."""
    return actor_for(request, db, csrf)


def actor_for(request: Request, db: Session, csrf: str | None) -> Actor:
    """The caller of `request` by bearer token or session cookie (a cookie request that changes
    something must present its CSRF token `csrf`); raises Unauthorized or Forbidden."""
    ip = client_ip(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("请使用 Bearer 令牌认证。", "Use a Bearer token.")
        actor = auth.resolve_token(db, token=token.strip(), ip=ip)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthorized()
        actor = auth.resolve_token(db, token=cookie, ip=ip, kind="ui")
        if request.method not in SAFE_METHODS and not auth.csrf_valid(cookie, csrf):
            raise Forbidden(
                "页面已过期或请求来源不可信（CSRF 校验失败），请刷新页面后重试。",
                "CSRF check failed.",
                details={"reason": "csrf"},
            )
        request.state.csrf_token = auth.csrf_token(cookie)
    request.state.actor = actor
    if actor.password_temporary and not _for_temporary_password(request.scope.get("endpoint")):
        raise PasswordChangeRequired(
            "您的密码是管理员设置的临时密码，请先修改密码（页面“修改密码”，或 POST /api/v1/auth/password），"
            "再继续使用平台。",
            "The password is temporary: change it first (POST /api/v1/auth/password).",
        )
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def optional_actor(request: Request, db: DB) -> Actor:
    """For public pages that adapt to a logged-in person; never raises."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return Actor.anonymous(client_ip(request))
    try:
        actor = auth.resolve_token(db, token=cookie, ip=client_ip(request), kind="ui")
    except Unauthorized:
        return Actor.anonymous(client_ip(request))
    request.state.csrf_token = auth.csrf_token(cookie)
    request.state.actor = actor
    return actor


MaybeActor = Annotated[Actor, Depends(optional_actor)]
