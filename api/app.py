"""The app factory: every route, dependency, guard, handler and lifespan in plain sight."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from api import openapi, unavailable
from api.auth.middleware import SignedRequestMiddleware
from api.background import running
from api.body import JSONRequest
from api.console import routes as console
from api.console.web import TEMPLATES
from api.deps import DEPENDENCIES
from api.housekeeping import Housekeeping, chores_of
from api.ledger_state import debtor_keys
from api.logging import RequestLog
from api.problems import EXCEPTION_HANDLERS
from api.routes import (
    blackmarket,
    collectors,
    complaints,
    contacts,
    entrustments,
    events,
    members,
    node,
    public,
    resources,
    risk,
    sync,
    tlog,
    trace,
)
from api.settings import Settings
from api.state import NodeState
from api.trace_state import WritesSeenByTrace, trace_lifespan
from api.webhooks.dispatcher import webhook_lifespan
from registry import db
from registry.migrate import migrate
from registry.node import ensure_node_id
from registry.signing_keys import load_or_create, public_jwk_of


def create_app(settings: Settings) -> Litestar:
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url; `registry serve` provides it")
    dsn = settings.database_url

    @contextlib.asynccontextmanager
    async def node_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        # Migrations may rightly outlast the pools' statement timeout: their own connection.
        conn = await db.connect(dsn)
        try:
            await migrate(conn)
            node_id = await ensure_node_id(conn, settings.node_id)
        finally:
            await conn.close()
        pool = await db.create_pool(
            dsn, settings.pool_min, settings.pool_max, seconds=settings.db_timeout)
        bookkeeping = await db.create_pool(
            dsn, 1, settings.pool_max, seconds=settings.db_timeout,
            server_settings={"synchronous_commit": "off"},
        )
        try:
            key = load_or_create(settings.data_dir / "node_key.pem")
            state = NodeState(settings, pool, bookkeeping, node_id, key, public_jwk_of(key))
            collectors.subject_keys(state)  # made on first start; a bad key file fails here
            debtor_keys(state)  # likewise the debtor-hash key
            app.state.node = state
            housekeeping = Housekeeping(pool, chores_of(settings))
            async with running(housekeeping.forever()):
                yield
        finally:
            await db.close_pool(bookkeeping, settings.db_timeout)
            await db.close_pool(pool, settings.db_timeout)

    app = Litestar(
        route_handlers=[
            *node.ROUTES, members.MemberController,
            collectors.CollectorFilingController, collectors.CollectorCheckController,
            blackmarket.BlackmarketController,
            risk.RiskEventController,
            entrustments.EntrustmentController, entrustments.RectificationController,
            resources.ResourceController,
            trace.TraceController, public.PublicController, contacts.ContactController,
            *sync.ROUTES, tlog.TlogController, tlog.ProofController, *console.ROUTES,
            openapi.asset_router(),
            events.EventController, events.WebhookController,
            complaints.ComplaintController, complaints.PublicComplaintController,
        ],
        template_config=TEMPLATES,
        dependencies=DEPENDENCIES,
        middleware=[SignedRequestMiddleware(), WritesSeenByTrace()],
        exception_handlers={**EXCEPTION_HANDLERS, **unavailable.EXCEPTION_HANDLERS},
        lifespan=[node_lifespan, trace_lifespan, sync.puller_lifespan, webhook_lifespan],
        openapi_config=OpenAPIConfig(
            title="Collection registry", version="1", path="/schema",
            description="Shared registry and telecom whitelist (API.md v1).",
            render_plugins=openapi.render_plugins(),
        ),
        request_class=JSONRequest,
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        # Logging is api/logging.py's: Litestar's default would put a plain-text handler
        # on the root logger.
        logging_config=None,
    )
    # Outside everything Litestar does, so that every answer is logged and carries its id.
    app.asgi_handler = RequestLog(app.asgi_handler)
    return app
