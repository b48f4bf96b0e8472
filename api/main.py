"""The FastAPI app: `create_app(settings, ...)` wires routers, errors and dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api import health
from api.deps import AppContext, PrincipalCache
from api.errors import install_error_handlers
from api.guards import install_guards
from api.metrics import install_metrics, install_tracing
from api.routes import (
    accounts,
    auth,
    channels,
    codec,
    customers,
    definitions,
    dispatch,
    finance,
    inventory,
    masterdata,
    meta,
    node_templates,
    orders,
    phone,
    prices,
    reporting,
    settlements,
    signoff,
    sla,
    steps,
    uploads,
)
from api.security import LoginLimiter
from designer.routes import docs_router
from designer.routes import router as designer_router
from servflow import tables  # noqa: F401  (every domain's tables, so relationships resolve)
from servflow.orders.watch import start_step_listener
from servflow.platform.db import make_engine, make_session_factory
from servflow.platform.keys import secret
from servflow.platform.settings import Settings, get_settings
from servflow.platform.temporal import connect
from servflow.platform.tracing import traced

# Every router of the API, in the order OpenAPI lists them.
ROUTERS = (
    health,
    auth,
    accounts,
    meta,
    definitions,
    node_templates,
    orders,
    steps,
    dispatch,
    sla,
    settlements,
    prices,
    finance,
    masterdata,
    inventory,
    codec,
    reporting,
    channels,
    customers,
    uploads,
    signoff,
    phone,
)


def _lifespan(
    ctx: AppContext, settings: Settings, *, owns_engine: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Connects to Temporal at startup (unless given a client); disposes the engine it made."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if ctx.temporal_client is None:
            ctx.temporal_client = traced(await connect(settings), settings)
        listener = start_step_listener(ctx.step_watch, ctx.session_factory, settings)
        _app.state.step_listener = listener
        try:
            yield
        finally:
            if listener is not None:
                await listener.stop()
            if owns_engine:
                bind = ctx.session_factory.kw.get("bind")
                if bind is not None:
                    bind.dispose()

    return lifespan


def _context(
    settings: Settings,
    session_factory: sessionmaker[Session] | None,
    temporal_client: Client | None,
    task_queue: str | None,
) -> AppContext:
    # Before any engine exists: a weak, published or missing secret (outside the demo)
    # stops the start with WeakSecret naming the setting.
    jwt_secret = secret(settings.jwt_secret, setting="jwt_secret", demo=settings.demo)
    actor_key = secret(settings.actor_key, setting="actor_key", demo=settings.demo)
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    return AppContext(
        settings=settings,
        session_factory=session_factory,
        jwt_secret=jwt_secret,
        task_queue=task_queue or settings.task_queue,
        temporal_client=temporal_client,
        actor_key=actor_key,
        principals=PrincipalCache(seconds=settings.auth_cache_seconds),
        logins=LoginLimiter(per_minute=settings.login_attempts_per_minute),
    )


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    temporal_client: Client | None = None,
    task_queue: str | None = None,
) -> FastAPI:
    """Builds the API.

    Args:
        settings: defaults to `get_settings()`.
        session_factory: the store; defaults to an engine on `settings.database_url`.
        temporal_client: defaults to one connected at startup.
        task_queue: where orders start; defaults to `settings.task_queue`.
    """
    settings = settings or get_settings()
    owns_engine = session_factory is None
    ctx = _context(settings, session_factory, temporal_client, task_queue)

    app = FastAPI(
        title="servflow API",
        version="0.1.0",
        description="Start, advance and follow work orders; design and publish pipelines.",
        lifespan=_lifespan(ctx, settings, owns_engine=owns_engine),
        docs_url=None,  # /docs and /redoc come from local assets (designer.routes.docs_router)
        redoc_url=None,
    )
    # Served from local assets by designer.routes.docs_router; the guards read these paths
    # to give those two pages their own content-security policy.
    app.docs_url, app.redoc_url = "/docs", "/redoc"
    app.state.ctx = ctx
    install_error_handlers(app)
    install_guards(
        app, large_body_paths={"/api/import/": 10 * 1_048_576, "/api/uploads": 9 * 1_048_576}
    )
    install_metrics(app, ctx.session_factory)
    install_tracing(app, settings)
    for module in ROUTERS:
        app.include_router(module.router)
    app.include_router(designer_router)
    app.include_router(docs_router)
    app.include_router(phone.pages)
    return app
