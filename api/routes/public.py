"""Public disclosure (API.md §9): a lender's agencies and the number check, for anyone,
rate limited per client address."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.deps import Db, Node
from api.trace_state import trace_state
from registry import ratelimit
from registry.entrustments import rules, store
from registry.entrustments.model import PublicAgencies
from registry.trace.model import PublicCheck


async def _count(request: Request[Any, Any, Any], db: Db, node: Node) -> None:
    client = request.client.host if request.client else "unknown"
    await ratelimit.hit(db, f"public:{client}", node.settings.public_rate_per_minute)


class PublicController(Controller):
    path = "/v1/public"
    tags = ["public"]

    @get("/lenders/{lender_id:str}/agencies", operation_id="PublicLenderAgencies")
    async def agencies(
        self, request: Request[Any, Any, Any], db: Db, node: Node, lender_id: FromPath[str]
    ) -> PublicAgencies:
        await _count(request, db, node)
        return await store.public_agencies(db, lender_id, rules.today())

    @get("/check/{value:str}", operation_id="PublicNumberCheck")
    async def check(
        self, request: Request[Any, Any, Any], db: Db, node: Node, value: FromPath[str]
    ) -> PublicCheck:
        await _count(request, db, node)
        trace = trace_state(node)
        await trace.feed.ensure_current()
        result = trace.answers.trace([value], int(time.time()))[0]
        if not result.traceable or result.user is None:
            return PublicCheck(False, None, [])
        return PublicCheck(True, result.user.name, [p.name for p in result.principals])
