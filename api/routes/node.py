"""The node's own endpoints: identity, liveness and readiness."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Response, get

from api.deps import Node


@get("/.well-known/registry-node", operation_id="RegistryNode", tags=["node"])
async def registry_node(node: Node) -> dict[str, Any]:
    return {"node_id": node.node_id, "keys": [node.node_jwk], "api": "v1"}


@get("/healthz", operation_id="Health", tags=["node"], include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", operation_id="Ready", tags=["node"])
async def readyz(node: Node) -> Response[dict[str, str]]:
    try:
        async with node.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return Response({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
    return Response({"status": "ready"})


ROUTES = [registry_node, healthz, readyz]
