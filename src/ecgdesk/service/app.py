"""The application factory (``create_app``) and the factory uvicorn's workers call (``app_from_env``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ecgdesk import __version__
from ecgdesk.service import errors
from ecgdesk.service.background import BackgroundWork
from ecgdesk.service.body_limit import BodyLimit
from ecgdesk.service.head import HeadAsGet
from ecgdesk.service.no_store import NoStore
from ecgdesk.service.said_once import said_once
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store, open_store

#: Router modules, each with a module-level ``router`` (helpers add theirs here, one line each).
ROUTER_MODULES: tuple[str, ...] = (
    "ecgdesk.service.routers.health",
    "ecgdesk.service.routers.session",
    "ecgdesk.service.routers.studies",
    "ecgdesk.service.routers.actions",
    "ecgdesk.service.routers.signing",
    "ecgdesk.service.routers.uploads",
    "ecgdesk.service.routers.audit",
    "ecgdesk.service.routers.users",
    "ecgdesk.service.routers.signal",
    "ecgdesk.service.routers.monitoring",
    "ecgdesk.service.routers.monitoring_items",
    "ecgdesk.service.routers.review",
    "ecgdesk.service.routers.pages",
    "ecgdesk.service.routers.study_pages",
    "ecgdesk.service.routers.billing_page",
    "ecgdesk.service.routers.admin_pages",
    "ecgdesk.service.routers.monitoring_pages",
    "ecgdesk.service.routers.claims",
    "ecgdesk.service.routers.interop",
)


def create_app(
    store: Store | None = None, settings: ServiceSettings | None = None, own_store: bool | None = None
) -> FastAPI:
    """The ECG Desk API over ``store`` (default: the store of the environment, opened at startup and closed
    at shutdown)."""
    import importlib

    settings = settings or ServiceSettings.from_env()
    closes = own_store if own_store is not None else store is None
    work = BackgroundWork()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store is None:  # opened when serving starts (the OpenAPI document needs no database)
            app.state.store = open_store()
        timers = None
        if settings.monitoring_timer_s > 0:
            from ecgdesk.workflow.monitoring_timers import MonitoringTimers

            timers = MonitoringTimers(app.state.store, settings.monitoring_timer_s).start()
        app.state.monitoring_timers = timers
        work.resume(app.state.store, settings.jobs == "inline")
        yield
        if timers is not None:
            timers.stop()
        work.join(timeout=30)
        if closes:
            app.state.store.close()

    app = FastAPI(
        title="ECG Desk",
        version=__version__,
        summary="Diagnostic ECG services: studies, recordings, reports, signatures, audit.",
        lifespan=lifespan,
        dependencies=[Depends(said_once)],  # first, before any route's own (service.said_once)
    )
    app.state.store = store
    app.state.settings = settings
    app.state.work = work
    errors.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(NoStore)
    app.add_middleware(HeadAsGet)
    # outermost: every part of the app sees the client and scheme a trusted proxy forwarded, no other's
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory ecgdesk.service.app:app_from_env`` (each worker opens its own store)."""
    return create_app()
