"""The application factory: API, UI, static assets, error handling and background jobs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text

from govshare import jobs
from govshare.db import get_engine, reads_first, unit_of_work
from govshare.settings import Settings, get_settings
from govshare.startup import check_production
from govshare.web import errors
from govshare.web.access_log import drop_query_values
from govshare.web.deps import public
from govshare.web.middleware import Admission, BodyLimit, DirectRoutes, SecurityHeaders, direct_route
from govshare.web.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parent / "static"


def routers() -> list[APIRouter]:
    """Every domain's routers, in the order they are included."""
    from govshare.analysis import api as analysis_api
    from govshare.analysis import views as analysis_views
    from govshare.audit import api as audit_api
    from govshare.audit import views as audit_views
    from govshare.auth import api as auth_api
    from govshare.auth import views as auth_views
    from govshare.backup import api as backup_api
    from govshare.backup import views as backup_views
    from govshare.calendar import api as calendar_api
    from govshare.calendar import views as calendar_views
    from govshare.catalog import api as catalog_api
    from govshare.catalog import api_exchange as catalog_api_exchange
    from govshare.catalog import views as catalog_views
    from govshare.catalog import views_exchange as catalog_views_exchange
    from govshare.catalog import views_review as catalog_views_review
    from govshare.classification import api as classification_api
    from govshare.classification import views as classification_views
    from govshare.destruction import api as destruction_api
    from govshare.destruction import views as destruction_views
    from govshare.exchange import api as exchange_api
    from govshare.exchange import api_services as exchange_api_services
    from govshare.exchange import api_sync as exchange_api_sync
    from govshare.exchange import views as exchange_views
    from govshare.exchange import views_services as exchange_views_services
    from govshare.exchange import views_sync as exchange_views_sync
    from govshare.masking import api as masking_api
    from govshare.masking import views as masking_views
    from govshare.opendata import api as opendata_api
    from govshare.opendata import views as opendata_views
    from govshare.orgs import api as orgs_api
    from govshare.orgs import views as orgs_views
    from govshare.policies import api as policies_api
    from govshare.policies import views as policies_views
    from govshare.protection import api as protection_api
    from govshare.protection import views as protection_views
    from govshare.rectification import api as rectification_api
    from govshare.rectification import views as rectification_views
    from govshare.sharing import api as sharing_api
    from govshare.sharing import data_views as sharing_data_views
    from govshare.sharing import views as sharing_views
    from govshare.supervision import api as supervision_api
    from govshare.supervision import views as supervision_views
    from govshare.systems import api as systems_api
    from govshare.systems import views as systems_views
    from govshare.users import api as users_api
    from govshare.users import views as users_views

    return [
        # Routes are tried in order, each one's pattern in turn: the data API, which business systems
        # call many times a second, goes first (its paths overlap no other router's).
        sharing_api.router,
        auth_api.router,
        orgs_api.router,
        users_api.router,
        systems_api.router,
        audit_api.router,
        catalog_api_exchange.router,  # before catalog_api: /catalog/export.* are fixed paths
        catalog_api.router,
        exchange_api.router,
        exchange_api_sync.router,
        exchange_api_services.router,
        analysis_api.router,
        calendar_api.router,
        masking_api.router,
        backup_api.router,
        protection_api.router,
        classification_api.router,
        destruction_api.router,
        policies_api.router,
        supervision_api.router,
        rectification_api.router,
        opendata_api.router,
        auth_views.router,
        orgs_views.router,
        users_views.router,
        systems_views.router,
        audit_views.router,
        calendar_views.router,
        masking_views.router,
        backup_views.router,
        protection_views.router,
        classification_views.router,
        destruction_views.router,
        policies_views.router,
        analysis_views.router,
        supervision_views.router,
        rectification_views.router,
        opendata_views.router,
        # The Bureau's (review) and the exchange pages have fixed paths under /catalog/ that must match before
        # the entry pages' /catalog/{resource_id}.
        catalog_views_review.router,
        exchange_views.router,
        exchange_views_sync.router,
        exchange_views_services.router,
        sharing_views.router,
        sharing_data_views.router,
        catalog_views_exchange.router,
        catalog_views.router,
    ]


def upload_limits() -> dict[str, int]:
    """Paths that take file uploads larger than a JSON body, with their limits (multipart overhead
    included); the handlers enforce the file's own limit with a clear message."""
    from govshare.catalog.workbook import MAX_UPLOAD_BYTES

    catalog_import = MAX_UPLOAD_BYTES + 64 * 1024
    return {"/catalog/import": catalog_import, "/api/v1/catalog/import": catalog_import}


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, run_jobs: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    scheduler = jobs.Scheduler(engine) if (settings.run_jobs if run_jobs is None else run_jobs) else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        check_production(settings, engine)
        drop_query_values()  # the access log keeps no filter values (web/access_log.py)
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

    app = FastAPI(
        title="GovShare 政务数据共享平台 API",
        version="1",
        description="JSON API for business systems and people. "
        "Authenticate with `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.engine = engine
    # Every request (and the denial recorder) opens its unit of work here; tests swap in one that
    # runs inside their rolled-back transaction.
    app.state.unit_of_work = lambda: unit_of_work(engine)
    app.state.reads_first = lambda deferred=None, inline=False: reads_first(
        engine, deferred=deferred, inline=inline
    )
    app.state.settings = settings
    app.state.templates = make_templates()
    errors.install(app)

    @app.get("/healthz", tags=["platform"])
    @public
    def healthz() -> dict[str, str]:
        """Liveness and database reachability (a read: it takes no write lock)."""
        with app.state.reads_first() as db:
            db.execute(text("SELECT 1"))
        return {"status": "ok"}

    for router in routers():
        app.include_router(router)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    from govshare.sharing import api as sharing_api

    if app.router.dependencies:  # they would apply to every route, and a direct one skips them
        raise ValueError("application-wide dependencies: DirectRoutes would skip them")
    app.add_middleware(DirectRoutes, routes=[direct_route(sharing_api.router.routes, sharing_api.read_rows)])
    app.add_middleware(
        BodyLimit,
        default=settings.max_json_bytes,
        overrides=upload_limits(),
        # Data batches stream to disk; their own limit is checked while they arrive (exchange.ingest).
        patterns=[
            (re.compile(r"/api/v1/resources/\d+/(batches|files)"), settings.max_batch_bytes),
            # A rectification report's attachment: base64 in JSON (4/3) or multipart, plus the text.
            (
                re.compile(r"(/api/v1)?/rectification/notices/\d+/reports?"),
                settings.rectification_report_max_bytes * 4 // 3 + 128 * 1024,
            ),
        ],
    )
    app.add_middleware(
        Admission,
        pattern=re.compile(r"/api/v1/resources/\d+/(rows|changes)"),
        slots=settings.data_api_concurrency,
    )
    app.add_middleware(SecurityHeaders, hsts=settings.cookies_secure)
    return app
