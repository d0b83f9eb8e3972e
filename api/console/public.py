"""Public pages: the number check for a person who got a call, and lenders' disclosures.

They answer from the same functions as the public API (api/routes/public.py) and count
against the same per-address budget, so a page is no way around the API's rate limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath

from api.console.web import page, see_other
from api.deps import Db, Node
from api.routes.complaints import file_public_complaint
from api.routes.public import count_public_request, public_check
from registry.complaints.model import CATEGORIES, PublicComplaintCreate
from registry.entrustments import rules as entrustment_rules
from registry.entrustments import store as entrustments
from registry.errors import Forbidden, Invalid
from registry.members import store as members
from registry.trace.decision import SHANGHAI
from registry.trace.model import PublicCheck

MAX_NUMBER = 40
PAGE_SIZE = 50


@get("/", include_in_schema=False)
async def home() -> Response[Any]:
    return see_other("/check")


def _check(request: Request[Any, Any, Any], number: str, result: PublicCheck | None,
           **extra: Any) -> Response[Any]:
    now = datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    context: dict[str, Any] = {"reported": False, "report_error": False, **extra}
    return page(request, "public/check.html", number=number, result=result, now_local=now,
                categories=CATEGORIES, **context)


@get("/check", include_in_schema=False)
async def check_page(request: Request[Any, Any, Any], db: Db, node: Node) -> Response[Any]:
    number = (request.query_params.get("number") or "").strip()[:MAX_NUMBER]
    result = None
    if number:
        await count_public_request(request, db, node)
        result = await public_check(node, number)
    return _check(request, number, result)


@post("/check/report", include_in_schema=False)
async def report_call(request: Request[Any, Any, Any], db: Db, node: Node) -> Response[Any]:
    """The short form under a verdict: the person reports the call (API.md §13). Nothing
    about the person is asked; a hidden field that only robots fill drops the report."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("reports are made from this site's own form")
    form = await request.form()
    number = str(form.get("number") or "").strip()[:MAX_NUMBER]
    if form.get("website"):
        return _check(request, number, None, reported=True)
    try:
        at = datetime.fromisoformat(str(form.get("at") or "")).replace(tzinfo=SHANGHAI)
        data = msgspec.convert({
            "number": number, "at": at, "category": str(form.get("category") or ""),
            "description": str(form.get("description") or "")}, PublicComplaintCreate)
        await file_public_complaint(request, db, node, data)
    except (ValueError, msgspec.ValidationError, Invalid):
        return _check(request, number, await public_check(node, number) if number else None,
                      report_error=True, status_code=422)
    return _check(request, number, None, reported=True)


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


ROUTES = [home, check_page, report_call, lender_list, lender_page]
