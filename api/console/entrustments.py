"""Console pages for agency supervision (Articles 17, 18): entrustments that need a look,
and one entrustment with its commitments, evaluations, rectifications, numbers and its
agency's complaint handling under that lender (what Article 18's evaluation weighs)."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from api.console.session import operator_actor
from api.console.web import page
from api.deps import Db, Node
from api.trace_state import trace_state
from registry.complaints import stats as complaint_stats
from registry.console.names import names_of
from registry.db import Connection
from registry.entrustments import stats, store
from registry.entrustments.model import Entrustment
from registry.entrustments.views import with_supervision
from registry.resources import store as resource_store

FLAGS = ("evaluation_overdue", "rectification_overdue", "agency_not_active")
PAGE_SIZE = 50


def flags_of(e: Entrustment) -> list[str]:
    """What an operator should notice about an entrustment, as label codes."""
    found = []
    if e.ended:
        return ["entrustment_ended"]
    if e.commitments is None:
        found.append("no_commitments")
    if e.evaluation_overdue:
        found.append("evaluation_overdue")
    if any(r.overdue for r in e.rectifications):
        found.append("rectification_overdue")
    elif any(r.status == "open" for r in e.rectifications):
        found.append("rectification_open")
    if e.agency_status != "active":
        found.append("agency_not_active")
    return found


async def rows_for(db: Connection, entrustments: list[Entrustment]) -> list[dict[str, Any]]:
    """Entrustments as table rows: names beside ids, flags."""
    names = await names_of(db, [i for e in entrustments for i in (e.lender_id, e.agency_id)])
    return [{"id": e.id, "principal": names.get(e.lender_id, e.lender_id),
             "agency": names.get(e.agency_id, e.agency_id), "starts_on": e.starts_on,
             "ends_on": e.ends_on, "parent_id": e.parent_id, "ended": e.ended,
             "agency_status": e.agency_status, "flags": flags_of(e)} for e in entrustments]


@get("/console/entrustments", include_in_schema=False)
async def entrustment_list(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    flag = request.query_params.get("flag")
    next_cursor = None
    if flag in FLAGS:
        ids = list(dict.fromkeys(getattr(await stats.flagged(db), flag)))[:PAGE_SIZE * 4]
        records = [await store.fetch(db, i) for i in ids]
        entrustments = await with_supervision(db, records)
    else:
        flag = None
        found = await store.list_entrustments(
            db, operator_actor(request), cursor=request.query_params.get("cursor") or None,
            limit=PAGE_SIZE)
        entrustments, next_cursor = found.items, found.next_cursor
    return page(request, "console/entrustments.html", rows=await rows_for(db, entrustments),
                flag=flag, flags=FLAGS, next_cursor=next_cursor)


@get("/console/entrustments/{entrustment_id:str}", include_in_schema=False)
async def entrustment_detail(
    request: Request[Any, Any, Any], db: Db, node: Node, entrustment_id: FromPath[str]
) -> Response[Any]:
    entrustment = await store.get_entrustment(db, entrustment_id, operator_actor(request))
    resources = await resource_store.resources_filed_under(db, entrustment_id)
    trace = trace_state(node)
    await trace.feed.ensure_current()
    verdicts = trace.answers.trace([r.value for r in resources], int(time.time()))
    names = await names_of(db, [entrustment.lender_id, entrustment.agency_id])
    parent = None
    if entrustment.parent_id is not None:
        parent = await store.fetch(db, entrustment.parent_id)
        names.update(await names_of(db, [parent.agency_id]))
    complaints = await complaint_stats.under_entrustment(
        db, entrustment.lender_id, entrustment.agency_id)
    return page(request, "console/entrustment.html", e=entrustment, names=names, parent=parent,
                flags=flags_of(entrustment), complaints=complaints,
                numbers=[{"kind": r.kind, "value": r.value, "traceable": v.traceable,
                          "reason": v.reason} for r, v in zip(resources, verdicts, strict=True)])


ROUTES = [entrustment_list, entrustment_detail]
