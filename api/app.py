"""The app factory: every route, dependency, guard, handler and lifespan in plain sight."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import structlog
from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from api import openapi
from api.auth.middleware import SignedRequestMiddleware
from api.console import routes as console
from api.console.web import TEMPLATES
from api.deps import DEPENDENCIES
from api.guards import standing
from api.logging import RequestLogMiddleware
from api.problems import EXCEPTION_HANDLERS
from api.routes import (
    blackmarket,
    collectors,
    entrustments,
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
from registry import db, ratelimit
from registry.migrate import migrate
from registry.node import ensure_node_id
from registry.principals import purge_expired_nonces
from registry.signing_keys import load_or_create, public_jwk_of

log = structlog.get_logger("api.app")
HOUSEKEEPING_SECONDS = 60


async def _housekeeping_forever(state: NodeState) -> None:
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        try:
            async with state.pool.acquire() as conn:
                await purge_expired_nonces(conn)
                await ratelimit.purge(conn)
        except Exception:
            log.warning("nonce_purge_failed", exc_info=True)


def create_app(settings: Settings) -> Litestar:
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url; `registry serve` provides it")
    dsn = settings.database_url

    @contextlib.asynccontextmanager
    async def node_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        pool = await db.create_pool(dsn, settings.pool_min, settings.pool_max)
        bookkeeping = await db.create_pool(
            dsn, 1, settings.pool_max, server_settings={"synchronous_commit": "off"}
        )
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
                node_id = await ensure_node_id(conn, settings.node_id)
            key = load_or_create(settings.data_dir / "node_key.pem")
            state = NodeState(settings, pool, bookkeeping, node_id, key, public_jwk_of(key))
            collectors.subject_keys(state)  # made on first start; a bad key file fails here
            app.state.node = state
            purge = asyncio.create_task(_housekeeping_forever(state))
            try:
                yield
            finally:
                purge.cancel()
        finally:
            await bookkeeping.close()
            await pool.close()

    return Litestar(
        route_handlers=[
            *node.ROUTES, members.MemberController,
            collectors.CollectorFilingController, collectors.CollectorCheckController,
            blackmarket.BlackmarketController,
            risk.RiskEventController,
            entrustments.EntrustmentController, resources.ResourceController,
            trace.TraceController, public.PublicController,
            *sync.ROUTES, tlog.TlogController, tlog.ProofController, *console.ROUTES,
            openapi.asset_router(),
        ],
        template_config=TEMPLATES,
        dependencies=DEPENDENCIES,
        guards=[standing],
        middleware=[RequestLogMiddleware(), SignedRequestMiddleware(), WritesSeenByTrace()],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[node_lifespan, trace_lifespan, sync.puller_lifespan],
        openapi_config=OpenAPIConfig(
            title="Collection registry", version="1", path="/schema",
            description="Shared registry and telecom whitelist (API.md v1).",
            render_plugins=openapi.render_plugins(),
        ),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
