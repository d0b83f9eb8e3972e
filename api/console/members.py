"""Console pages for members: the searchable list, one member's page, and its status actions."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath

from api.console.entrustments import rows_for
from api.console.session import operator_actor, signed_in
from api.console.web import page, see_other
from api.deps import Db, Node
from api.state import NodeState
from api.trace_state import trace_state
from registry.actors import Actor
from registry.complaints import stats as complaint_stats
from registry.console import audit, staff
from registry.console.names import names_of
from registry.db import Connection
from registry.entrustments import store as entrustments
from registry.errors import Conflict, FieldError, Forbidden, Invalid
from registry.events import webhooks
from registry.members import rules, store
from registry.members.model import (
    SUBTYPES,
    ComplaintsPatch,
    ContactPatch,
    MemberPatch,
    StatusChange,
)
from registry.resources import store as resource_store

KINDS = ("lender", "debt_buyer", "collection_agency", "carrier")
STATUSES = ("pending", "active", "suspended", "removed")
PAGE_SIZE = 25


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@get("/console/members", include_in_schema=False)
async def member_list(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    params = request.query_params
    kind = _choice(params.get("kind"), KINDS)
    status = _choice(params.get("status"), STATUSES)
    q = (params.get("q") or "").strip()[:100] or None
    found = await store.list_members(db, kind=kind, status=status, q=q,
                                     cursor=params.get("cursor") or None, limit=PAGE_SIZE)
    return page(request, "console/members.html", members=found.items,
                next_cursor=found.next_cursor, kinds=KINDS, statuses=STATUSES,
                kind=kind, status=status, q=q or "", paged="cursor" in params)


async def _member_page(
    request: Request[Any, Any, Any], db: Connection, node: NodeState, member_id: str, *,
    error: str | None = None, status_code: int = 200, reason: str = "",
    disclosure_errors: list[FieldError] | None = None,
) -> Response[Any]:
    member = await store.get_member(db, member_id)
    return page(
        request, "console/member.html", status_code=status_code, member=member,
        next_statuses=[s for s in STATUSES if s in rules.TRANSITIONS.get(member.status, ())],
        has_subtypes=member.kind in SUBTYPES, error=error, reason=reason,
        subtypes=sorted(SUBTYPES.get(member.kind, ())),
        disclosure_errors=disclosure_errors,
        changed=request.query_params.get("changed") == "1",
        disclosed=request.query_params.get("disclosed") == "1",
        added=request.query_params.get("added") == "1",
        audit_trail=await audit.recent(db, target_type="member", target_id=member_id),
        names=await names_of(db, [*(e.by for e in member.history),
                                  *(d.by for d in member.disclosure_history)]),
        extras=await member_extras(db, node, operator_actor(request), member_id),
    )


async def member_extras(
    db: Connection, node: NodeState, actor: Actor, member_id: str
) -> dict[str, Any]:
    """The member's entrustments (either side) and resources (either side), each resource
    with what the trace decision says of its value now."""
    entrusted = [
        *(await entrustments.list_entrustments(db, actor, lender_id=member_id, limit=200)).items,
        *(await entrustments.list_entrustments(db, actor, agency_id=member_id, limit=200)).items,
    ]
    resources = await resource_store.resources_of(db, member_id)
    trace = trace_state(node)
    await trace.feed.ensure_current()
    verdicts = trace.answers.trace([r.value for r in resources], int(time.time()))
    return {
        "webhook": await webhooks.webhook_status(db, member_id),
        "complaints": await complaint_stats.figures(db, [member_id]),
        "entrustments": await rows_for(db, entrusted),
        "resources": [
            {"kind": r.kind, "value": r.value, "valid_from": r.valid_from,
             "valid_to": r.valid_to, "confirmed": r.confirmed,
             "traceable": v.traceable, "reason": v.reason}
            for r, v in zip(resources, verdicts, strict=True)],
    }


@get("/console/members/{member_id:str}", include_in_schema=False)
async def member_detail(
    request: Request[Any, Any, Any], db: Db, node: Node, member_id: FromPath[str]
) -> Response[Any]:
    return await _member_page(request, db, node, member_id)


@post("/console/members/{member_id:str}/status", include_in_schema=False)
async def member_status(
    request: Request[Any, Any, Any], db: Db, node: Node, member_id: FromPath[str]
) -> Response[Any]:
    session = signed_in(request)
    form = await request.form()
    wanted = str(form.get("status") or "")
    reason = str(form.get("reason") or "")
    actor = operator_actor(request)
    try:
        await staff.require_administrator(db, session.operator_id)
        async with db.transaction():
            before = await store.get_member(db, member_id)
            await store.set_status(db, member_id, StatusChange(wanted, reason), actor)  # type: ignore[arg-type]
            await audit.record(db, session.operator_id, "member_status", "member", member_id,
                               {"from": before.status, "to": wanted, "reason": reason.strip()})
    except (Invalid, Conflict, Forbidden) as refused:
        return await _member_page(request, db, node, member_id, error=refused.code,
                                  status_code=refused.status, reason=reason)
    return see_other(f"/console/members/{member_id}?changed=1")


def _text(form: Any, name: str) -> str | None:
    return str(form.get(name) or "").strip() or None


def disclosure_from_form(form: Any, has_subtypes: bool) -> MemberPatch:
    """The disclosure form as a PATCH of every field it shows (empty clears a field); only
    values that differ become changes in the history."""
    return MemberPatch(
        name=str(form.get("name") or ""),
        subtype=_text(form, "subtype") if has_subtypes else msgspec.UNSET,
        contact=ContactPatch(**{f: _text(form, f"contact.{f}")
                                for f in ContactPatch.__struct_fields__}),
        complaints=ComplaintsPatch(**{f: _text(form, f"complaints.{f}")
                                      for f in ComplaintsPatch.__struct_fields__}),
    )


@post("/console/members/{member_id:str}/disclosure", include_in_schema=False)
async def member_disclosure(
    request: Request[Any, Any, Any], db: Db, node: Node, member_id: FromPath[str]
) -> Response[Any]:
    """An operator corrects a disclosure (API.md §10), kept in the same history as PATCH."""
    session = signed_in(request)
    before = await store.get_member(db, member_id)
    patch = disclosure_from_form(await request.form(), before.kind in SUBTYPES)
    try:
        async with db.transaction():
            after = await store.update_disclosure(db, member_id, patch, operator_actor(request))
            if len(after.disclosure_history) > len(before.disclosure_history):
                await audit.record(db, session.operator_id, "member_disclosure", "member",
                                   member_id,
                                   {"fields": ", ".join(after.disclosure_history[-1].fields)})
    except Invalid as refused:
        return await _member_page(request, db, node, member_id, status_code=refused.status,
                                  disclosure_errors=refused.errors)
    except (Forbidden, Conflict) as refused:
        return await _member_page(request, db, node, member_id, error=refused.code,
                                  status_code=refused.status)
    return see_other(f"/console/members/{member_id}?disclosed=1#h-disclosure")


ROUTES = [member_list, member_detail, member_status, member_disclosure]
