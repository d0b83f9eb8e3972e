"""Public pages: the number check for a person who got a call, and lenders' disclosures.

They answer from the same functions as the public API (api/routes/public.py) and count
against the same per-address budget, so a page is no way around the API's rate limit.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from api.console.web import page, see_other
from api.deps import Db, Node
from api.routes.public import count_public_request, public_check
from registry.entrustments import rules as entrustment_rules
from registry.entrustments import store as entrustments
from registry.members import store as members

MAX_NUMBER = 40
PAGE_SIZE = 50


@get("/", include_in_schema=False)
async def home() -> Response[Any]:
    return see_other("/check")


@get("/check", include_in_schema=False)
async def check_page(request: Request[Any, Any, Any], db: Db, node: Node) -> Response[Any]:
    number = (request.query_params.get("number") or "").strip()[:MAX_NUMBER]
    result = None
    if number:
        await count_public_request(request, db, node)
        result = await public_check(node, number)
    return page(request, "public/check.html", number=number, result=result)


@get("/public/lenders", include_in_schema=False)
async def lender_list(request: Request[Any, Any, Any], db: Db, node: Node) -> Response[Any]:
    await count_public_request(request, db, node)
    q = (request.query_params.get("q") or "").strip()[:100] or None
    # Debt buyers disclose their agencies like lenders (Article 2).
    found = await members.list_members(db, kinds=["lender", "debt_buyer"], status="active", q=q,
                                       cursor=request.query_params.get("cursor") or None,
                                       limit=PAGE_SIZE)
    return page(request, "public/lenders.html", lenders=found.items,
                next_cursor=found.next_cursor, q=q or "")


@get("/public/lenders/{lender_id:str}", include_in_schema=False)
async def lender_page(
    request: Request[Any, Any, Any], db: Db, node: Node, lender_id: FromPath[str]
) -> Response[Any]:
    await count_public_request(request, db, node)
    disclosure = await entrustments.public_agencies(db, lender_id, entrustment_rules.today())
    return page(request, "public/lender.html", disclosure=disclosure)


ROUTES = [home, check_page, lender_list, lender_page]
