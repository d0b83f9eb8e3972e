"""Public disclosure (API.md §9): a lender's agencies and the number check, for anyone,
rate limited per client address."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.deps import Db, Node
from api.state import NodeState
from api.trace_state import trace_state
from registry import ratelimit
from registry.db import Connection
from registry.entrustments import rules, store
from registry.entrustments.model import PublicAgencies
from registry.trace.model import PublicCheck


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def count_public_request(
    request: Request[Any, Any, Any], db: Connection, node: NodeState
) -> None:
    """One request against the client address's public budget (API and public pages alike)."""
    await ratelimit.hit(db, f"public:{client_address(request)}",
                        node.settings.public_rate_per_minute)


async def public_check(node: NodeState, value: str) -> PublicCheck:
    """The number check: the trace decision of now, told without ids or reasons."""
    trace = trace_state(node)
    await trace.feed.ensure_current()
    result = trace.answers.trace([value], int(time.time()))[0]
    if not result.traceable or result.user is None:
        return PublicCheck(False, None, [])
    return PublicCheck(True, result.user.name, [p.name for p in result.principals])


class PublicController(Controller):
    path = "/v1/public"
    tags = ["public"]

    @get("/lenders/{lender_id:str}/agencies", operation_id="PublicLenderAgencies")
    async def agencies(
        self, request: Request[Any, Any, Any], db: Db, node: Node, lender_id: FromPath[str]
    ) -> PublicAgencies:
        await count_public_request(request, db, node)
        return await store.public_agencies(db, lender_id, rules.today())

    @get("/check/{value:str}", operation_id="PublicNumberCheck")
    async def check(
        self, request: Request[Any, Any, Any], db: Db, node: Node, value: FromPath[str]
    ) -> PublicCheck:
        await count_public_request(request, db, node)
        return await public_check(node, value)
