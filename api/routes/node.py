"""The node's own endpoints: identity, liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar import Response, get

from api.deps import Node
from api.unavailable import DATABASE_FAULTS, RETRY_AFTER_SECONDS

READY_WITHIN = 0.8
READY_FAULTS: tuple[type[Exception], ...] = (
    *DATABASE_FAULTS, asyncpg.PostgresError, asyncpg.InterfaceError)


@get("/.well-known/registry-node", operation_id="RegistryNode", tags=["node"])
async def registry_node(node: Node) -> dict[str, Any]:
    return {"node_id": node.node_id, "keys": [node.node_jwk], "api": "v1"}


@get("/healthz", operation_id="Health", tags=["node"], include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", operation_id="Ready", tags=["node"])
async def readyz(node: Node) -> Response[dict[str, str]]:
    """Ready when the database answers within READY_WITHIN: a balancer's probe gets its
    answer in under a second, whatever state the database is in."""
    # The probe runs on: asyncpg's clean-up of a statement cut short (a cancel request to
    # the server) must not hold the answer back.
    probe = asyncio.ensure_future(_select_one(node.pool))
    probe.add_done_callback(_consume)
    try:
        await asyncio.wait_for(asyncio.shield(probe), READY_WITHIN)
    except READY_FAULTS as exc:
        return Response({"status": "unavailable", "detail": type(exc).__name__}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return Response({"status": "ready"})


async def _select_one(pool: asyncpg.Pool) -> None:
    async with pool.acquire(timeout=READY_WITHIN) as conn:
        await conn.fetchval("SELECT 1", timeout=READY_WITHIN)


def _consume(probe: asyncio.Future[None]) -> None:
    """A probe that failed after its answer was given: nothing to report twice."""
    if not probe.cancelled():
        probe.exception()


ROUTES = [registry_node, healthz, readyz]
