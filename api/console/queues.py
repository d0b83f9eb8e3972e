"""Review queues: collector filings to publish or reject, late risk events, black-market groups.

Every action goes through the intel services as the signed-in operator, in one transaction
with its audit entry.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from api.console.session import operator_actor, signed_in
from api.console.web import page, see_other
from api.deps import Db, Node
from registry.blackmarket import rules as blackmarket_rules
from registry.blackmarket import store as blackmarket
from registry.blackmarket.model import Group, Indicator
from registry.collectors import rules as filing_rules
from registry.collectors import store as filings
from registry.collectors.model import Review, Revocation
from registry.console import audit
from registry.console.names import names_of
from registry.db import Connection
from registry.errors import Conflict, Invalid
from registry.risk import store as risk

FILING_STATUSES = ("submitted", "published", "rejected", "revoked", "expired")
TLPS = ("red", "amber", "green")
PAGE_SIZE = 50


@get("/console/filings", include_in_schema=False)
async def filing_queue(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    wanted = request.query_params.get("status", "submitted")
    status = wanted if wanted in FILING_STATUSES else None
    found = await filings.list_filings(db, operator_actor(request), status=status,
                                       cursor=request.query_params.get("cursor") or None,
                                       limit=PAGE_SIZE)
    return page(request, "console/filings.html", filings=found.items, status=status,
                statuses=FILING_STATUSES, next_cursor=found.next_cursor,
                names=await names_of(db, [f.filer_id for f in found.items]))


async def _filing_page(
    request: Request[Any, Any, Any], db: Connection, filing_id: str, *,
    error: str | None = None, status_code: int = 200,
) -> Response[Any]:
    filing = await filings.get_filing(db, filing_id, operator_actor(request))
    names = await names_of(db, [filing.filer_id, *(e.by for e in filing.history)])
    return page(request, "console/filing.html", status_code=status_code, filing=filing,
                names=names, error=error, changed=request.query_params.get("changed") == "1",
                can_review=filing.status == "submitted",
                can_revoke="revoked" in filing_rules.TRANSITIONS.get(filing.status, ()))


@get("/console/filings/{filing_id:str}", include_in_schema=False)
async def filing_detail(
    request: Request[Any, Any, Any], db: Db, filing_id: FromPath[str]
) -> Response[Any]:
    return await _filing_page(request, db, filing_id)


@post("/console/filings/{filing_id:str}/review", include_in_schema=False)
async def filing_review(
    request: Request[Any, Any, Any], db: Db, node: Node, filing_id: FromPath[str]
) -> Response[Any]:
    form = await request.form()
    decision = str(form.get("decision") or "")
    reason = str(form.get("reason") or "")
    if decision not in ("publish", "reject"):
        return await _filing_page(request, db, filing_id, error="invalid", status_code=422)
    years = node.settings.collector_filing_years
    return await _act_on_filing(
        request, db, filing_id, f"filing_{decision}", reason,
        lambda actor: filings.review(db, filing_id, Review(decision, reason),  # type: ignore[arg-type]
                                     actor, years))


@post("/console/filings/{filing_id:str}/revoke", include_in_schema=False)
async def filing_revoke(
    request: Request[Any, Any, Any], db: Db, filing_id: FromPath[str]
) -> Response[Any]:
    reason = str((await request.form()).get("reason") or "")
    return await _act_on_filing(
        request, db, filing_id, "filing_revoke", reason,
        lambda actor: filings.revoke(db, filing_id, Revocation(reason), actor))


async def _act_on_filing(
    request: Request[Any, Any, Any], db: Connection, filing_id: str, action: str, reason: str,
    act: Any,
) -> Response[Any]:
    session = signed_in(request)
    try:
        async with db.transaction():
            done = await act(operator_actor(request))
            await audit.record(db, session.operator_id, action, "collector_filing", filing_id,
                               {"to": done.status, "reason": reason.strip()})
    except (Invalid, Conflict) as refused:
        return await _filing_page(request, db, filing_id, error=refused.code,
                                  status_code=refused.status)
    return see_other(f"/console/filings/{filing_id}?changed=1")


@get("/console/risk-events", include_in_schema=False)
async def risk_queue(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    late_only = request.query_params.get("late") == "1"
    incomplete_only = request.query_params.get("incomplete") == "1"
    found = await risk.list_events(db, operator_actor(request), late=True if late_only else None,
                                   incomplete=True if incomplete_only else None,
                                   cursor=request.query_params.get("cursor") or None,
                                   limit=PAGE_SIZE)
    return page(request, "console/risk_events.html", events=found.items, late_only=late_only,
                incomplete_only=incomplete_only,
                next_cursor=found.next_cursor,
                names=await names_of(db, [e.reporter_id for e in found.items]))


async def corroboration(db: Connection, groups: list[Group], actor: Any) -> dict[str, int]:
    """Per group, the most distinct reporters behind any one of its indicators."""
    wanted = list({(i.type, i.value): i for g in groups for i in g.indicators}.values())
    wanted = wanted[:blackmarket_rules.MAX_INDICATORS]
    if not wanted:
        return {}
    found = await blackmarket.match(db, [Indicator(i.type, i.value) for i in wanted], actor)
    reporters = {(m.type, m.value): m.reporters for m in found.matches}
    return {g.id: max((reporters.get((i.type, i.value), 0) for i in g.indicators), default=0)
            for g in groups}


@get("/console/blackmarket", include_in_schema=False)
async def blackmarket_groups(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    actor = operator_actor(request)
    found = await blackmarket.list_groups(db, actor,
                                          cursor=request.query_params.get("cursor") or None,
                                          limit=PAGE_SIZE)
    support = await corroboration(db, found.items, actor)
    by_tlp = {tlp: sorted((g for g in found.items if g.tlp == tlp),
                          key=lambda g: (-support.get(g.id, 0), g.name))
              for tlp in TLPS}
    return page(request, "console/blackmarket.html", by_tlp=by_tlp, tlps=TLPS,
                support=support, next_cursor=found.next_cursor,
                names=await names_of(db, [g.reporter_id for g in found.items
                                          if g.reporter_id]))


ROUTES = [filing_queue, filing_detail, filing_review, filing_revoke, risk_queue,
          blackmarket_groups]
