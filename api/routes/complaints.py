"""Complaints (API.md §13): carriers and operators file, the public reports, the members a
complaint was routed to read and answer it. Routing asks the worker's trace index for the
decision at the time of the call: the one trace decision, not a copy of its rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.client_address import client_address
from api.deps import CurrentActor, Db, Node, PageLimit
from api.guards import members_of_kind
from api.routes.public import count_public_request
from api.state import NodeState
from api.trace_state import trace_state
from registry import ratelimit
from registry.actors import Actor
from registry.complaints import rules, store
from registry.complaints.model import (
    Complaint,
    ComplaintCreate,
    ComplaintPage,
    PublicComplaintCreate,
    PublicReceipt,
    ResponseCreate,
    Status,
)
from registry.db import Connection
from registry.trace.model import TraceResult


async def trace_at(node: NodeState, number: str, at: datetime) -> TraceResult:
    """The trace decision for `number` at `at`, on this worker's current index."""
    trace = trace_state(node)
    await trace.feed.ensure_current()
    return trace.answers.trace([number], int(at.timestamp()))[0]


async def file_complaint(
    db: Connection, node: NodeState, *, source: str, filer: Actor | None, number: str,
    at: datetime, category: str, text: str, text_field: str, at_field: str,
    digest: bool = False,
) -> tuple[Complaint, bool]:
    """Route and keep one complaint, from a member's system or from a person alike."""
    value = rules.number_of(number)
    rules.check_received(at, datetime.now(UTC), at_field)
    text = rules.check_text(text_field, text)
    result = await trace_at(node, value, at)
    return await store.file(
        db, source=source, filer=filer, number=value, received_at=at, category=category,
        summary=text, routed_to=rules.routes_of(result), traceable=result.traceable,
        reason=result.reason, respond_within_hours=node.settings.complaint_respond_hours,
        digest=rules.public_digest(value, category, text, at) if digest else None,
    )


async def file_public_complaint(
    request: Request[Any, Any, Any], db: Connection, node: NodeState,
    data: PublicComplaintCreate,
) -> tuple[PublicReceipt, bool]:
    """A person's report: the public budget, a tighter one of its own, and identical
    reports collapsed onto the first; nothing about the person is kept."""
    await count_public_request(request, db, node)
    client = client_address(request.scope, node.settings.trusted_proxies)
    await ratelimit.hit(db, f"public-complaints:{client}",
                        node.settings.public_complaints_per_hour, window_seconds=3600)
    complaint, new = await file_complaint(
        db, node, source="public", filer=None, number=data.number, at=data.at,
        category=data.category, text=data.description, text_field="description",
        at_field="at", digest=True)
    return PublicReceipt(id=complaint.id, respond_by=complaint.respond_by,
                         registered=complaint.traceable, duplicate=not new), new


class ComplaintController(Controller):
    path = "/v1/complaints"
    tags = ["complaints"]

    @post("/", operation_id="FileComplaint",
          guards=[members_of_kind("carrier", operators=True)])
    async def create(
        self, db: Db, node: Node, actor: CurrentActor, data: JSONBody[ComplaintCreate]
    ) -> Complaint:
        """Routed to the number's user and principals at `received_at`; an untraceable
        number to the operators, and recorded as a black-market sighting."""
        complaint, _ = await file_complaint(
            db, node, source="operator" if actor.is_operator else "carrier", filer=actor,
            number=data.number, at=data.received_at, category=data.category,
            text=data.summary, text_field="summary", at_field="received_at")
        return complaint

    @get("/", operation_id="ListComplaints")
    async def list(
        self, db: Db, actor: CurrentActor, status: FromQuery[Status | None] = None,
        late: FromQuery[bool | None] = None, cursor: FromQuery[str | None] = None,
        limit: PageLimit = 50,
    ) -> ComplaintPage:
        """Those routed to the caller (a lender: those about its agencies) and those it
        filed; operators: all. Newest call first."""
        return await store.list_complaints(db, actor, status=status, late=late,
                                           cursor=cursor, limit=limit)

    @get("/{complaint_id:str}", operation_id="GetComplaint")
    async def get(
        self, db: Db, actor: CurrentActor, complaint_id: FromPath[str]
    ) -> Complaint:
        return await store.get_complaint(db, complaint_id, actor)

    @post("/{complaint_id:str}/responses", operation_id="RespondToComplaint",
          status_code=HTTP_201_CREATED)
    async def respond(
        self, db: Db, actor: CurrentActor, complaint_id: FromPath[str],
        data: JSONBody[ResponseCreate],
    ) -> Complaint:
        return await store.respond(db, complaint_id, data, actor)


class PublicComplaintController(Controller):
    path = "/v1/public/complaints"
    tags = ["public"]

    @post("/", operation_id="PublicComplaint")
    async def create(
        self, request: Request[Any, Any, Any], db: Db, node: Node,
        data: JSONBody[PublicComplaintCreate],
    ) -> Response[PublicReceipt]:
        """201 with a receipt; 200 with the first receipt when an identical report (same
        number, category, text and day) was already received."""
        receipt, new = await file_public_complaint(request, db, node, data)
        return Response(receipt, status_code=HTTP_201_CREATED if new else HTTP_200_OK)
