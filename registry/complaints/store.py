"""Complaint storage: filing (routed as the trace decided), reading scoped to the filer,
the members it was routed to and operators (in every WHERE clause), and responses.

A complaint is a record of the node where it was filed; a response is a record of the
responder's node, referencing the complaint, so a member answers on its own node whoever
filed. A complaint about a number that traces to nobody is also recorded, in the same
transaction, as a black-market sighting of that number reported by the filer (Art. 27).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.blackmarket import store as blackmarket
from registry.blackmarket.indicators import IndicatorProblem, normalize_phone
from registry.blackmarket.model import Indicator
from registry.complaints import rules
from registry.complaints.model import (
    OPERATORS,
    ComplaintPage,
    ComplaintRecord,
    ComplaintResponse,
    ComplaintRoute,
    ResponseCreate,
)
from registry.complaints.model import Complaint as ComplaintView
from registry.db import Connection
from registry.errors import Forbidden, NotFound
from registry.events import model as events
from registry.events.outbox import emit
from registry.ids import new_id
from registry.paging import decode_time_cursor, time_cursor

RECORD_TYPE = "complaint"
RESPONSE_TYPE = "complaint_response"
PUBLIC = "public"  # the filer (and sighting reporter) of complaints made by the public
SIGHTING_TLP = "green"  # a number complained about is a lead for every member

_RECORD = """c.id, c.origin, c.source, c.filer_id, c.number, c.received_at, c.category,
       c.summary, c.respond_by, c.traceable, c.reason, c.routed_to, c.created_at"""
_SELECT = f"""
SELECT {_RECORD},
       complaint_late(c.respond_by, a.answered_at) AS late,
       coalesce(a.latest, 'open') AS status, coalesce(a.responses, '[]') AS responses
FROM complaints c
LEFT JOIN LATERAL (
    SELECT min(r.at) AS answered_at,
           (array_agg(r.outcome ORDER BY r.at DESC, r.id DESC))[1] AS latest,
           jsonb_agg(jsonb_build_object(
               'id', r.id, 'origin', r.origin, 'complaint_id', r.complaint_id,
               'responder_id', r.responder_id, 'outcome', r.outcome, 'summary', r.summary,
               'at', r.at) ORDER BY r.at, r.id) AS responses
    FROM complaint_responses r WHERE r.complaint_id = c.id
) a ON true
"""  # noqa: S608  (constant fragments only; every value is a $n parameter)
# $1: is an operator, $2: the caller's id. Operators see every complaint; a member those it
# filed and those routed to it (a lender: those about its agencies, as their principal).
VISIBLE = """($1::boolean OR c.filer_id = $2
     OR c.routed_to @> jsonb_build_array(jsonb_build_object('id', $2::text)))"""
_ROUTED_TO = "c.routed_to @> jsonb_build_array(jsonb_build_object('id', $1::text))"


def _view(row: asyncpg.Record, actor: Actor | None) -> ComplaintView:
    shown = actor is None or actor.is_operator or actor.id == row["filer_id"]
    data = {**dict(row), "filer_id": row["filer_id"] if shown else None}
    return msgspec.convert(data, ComplaintView)


def _record(row: asyncpg.Record) -> ComplaintRecord:
    fields = ComplaintRecord.__struct_fields__
    return msgspec.convert({k: row[k] for k in fields}, ComplaintRecord)


async def file(
    conn: Connection, *, source: str, filer: Actor | None, number: str,
    received_at: datetime, category: str, summary: str, routed_to: list[ComplaintRoute],
    traceable: bool, reason: str | None, respond_within_hours: float,
    digest: str | None = None,
) -> tuple[ComplaintView, bool]:
    """Keep a complaint routed as the trace decided; (complaint, False) when an identical
    public report already stands (`digest`): it is counted there, and nothing else done."""
    complaint_id = new_id("cp")
    filer_id = filer.id if filer is not None else PUBLIC
    async with conn.transaction():
        row = await conn.fetchrow(
            """INSERT INTO complaints (id, origin, source, filer_id, number, received_at,
                   category, summary, respond_by, traceable, reason, routed_to, digest)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (digest) WHERE digest IS NOT NULL
               DO UPDATE SET reports = complaints.reports + 1
               RETURNING id, xmax = 0 AS made""",
            complaint_id, await changelog.node_id(conn), source, filer_id, number,
            received_at, category, summary,
            rules.respond_by(received_at, respond_within_hours), traceable, reason,
            msgspec.to_builtins(routed_to), digest,
        )
        assert row is not None
        if not row["made"]:
            return await _get(conn, row["id"]), False
        logged = await conn.fetchrow(
            f"SELECT {_RECORD} FROM complaints c WHERE c.id = $1", complaint_id)  # noqa: S608
        assert logged is not None
        await changelog.append_one(conn, RECORD_TYPE, complaint_id, _record(logged))
        complaint = await _get(conn, complaint_id)
        if filer is not None:
            await record_evidence(conn, filer, RECORD_TYPE, complaint_id)
        if not traceable:
            await _record_sighting(conn, complaint, filer)
        await _tell(conn, complaint)
    return complaint, True


async def _record_sighting(
    conn: Connection, complaint: ComplaintView, filer: Actor | None
) -> None:
    """The untraceable number as black-market intelligence, the filer its reporter; an SMS
    port code is no phone indicator and is left to the operators' queue."""
    try:
        phone = normalize_phone(complaint.number)
    except IndicatorProblem:
        return
    sighting = await blackmarket.record_sighting(
        conn, filer.id if filer is not None else PUBLIC, Indicator("phone", phone),
        complaint.received_at, SIGHTING_TLP)
    if filer is not None:
        await record_evidence(conn, filer, blackmarket.SIGHTING, sighting.id)


async def _tell(conn: Connection, complaint: ComplaintView) -> None:
    """complaint.routed to each recipient, saying in what role it got the complaint."""
    for route in complaint.routed_to:
        await emit(conn, events.COMPLAINT_ROUTED, events.EventSubject(RECORD_TYPE, complaint.id),
                   events.ComplaintRouted(
                       complaint_id=complaint.id, number=complaint.number,
                       category=complaint.category, received_at=complaint.received_at,
                       respond_by=complaint.respond_by, role=route.role,
                       traceable=complaint.traceable),
                   [events.OPERATORS if route.id == OPERATORS else route.id])


async def _get(conn: Connection, complaint_id: str) -> ComplaintView:
    row = await conn.fetchrow(_SELECT + " WHERE c.id = $1", complaint_id)
    assert row is not None
    return _view(row, None)


async def get_complaint(conn: Connection, complaint_id: str, actor: Actor) -> ComplaintView:
    row = await conn.fetchrow(
        _SELECT + f" WHERE {VISIBLE} AND c.id = $3", actor.is_operator, actor.id, complaint_id)
    if row is None:
        raise NotFound(f"no complaint {complaint_id}")
    return _view(row, actor)


async def list_complaints(
    conn: Connection, actor: Actor, *, status: str | None = None, late: bool | None = None,
    cursor: str | None = None, limit: int = 50,
) -> ComplaintPage:
    """The complaints the caller may see, newest call first."""
    after_at, after_id = decode_time_cursor(cursor)
    rows = await conn.fetch(
        _SELECT + f""" WHERE {VISIBLE}
          AND ($3::text IS NULL OR coalesce(a.latest, 'open') = $3)
          AND ($4::boolean IS NULL OR complaint_late(c.respond_by, a.answered_at) = $4)
          AND ($5::timestamptz IS NULL OR (c.received_at, c.id) < ($5, $6))
        ORDER BY c.received_at DESC, c.id DESC LIMIT $7""",
        actor.is_operator, actor.id, status, late, after_at, after_id, limit + 1,
    )
    items = [_view(r, actor) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = time_cursor(items[-1].received_at, items[-1].id)
    return ComplaintPage(items, next_cursor)


async def queue(conn: Connection, limit: int = 100) -> list[ComplaintView]:
    """The operators' queue: late ones first, then those still open, the most urgent first."""
    rows = await conn.fetch(
        _SELECT + """ ORDER BY complaint_late(c.respond_by, a.answered_at) DESC,
                     (a.latest IS NULL) DESC, c.respond_by, c.id LIMIT $1""", limit)
    return [_view(r, None) for r in rows]


async def respond(
    conn: Connection, complaint_id: str, data: ResponseCreate, actor: Actor
) -> ComplaintView:
    """A response by a member the complaint was routed to (operators answer those routed
    to them). Whoever may not see the complaint is told it does not exist."""
    summary = rules.check_text("summary", data.summary)
    async with conn.transaction():
        row = await conn.fetchrow(
            f"SELECT c.routed_to FROM complaints c WHERE {VISIBLE} AND c.id = $3"  # noqa: S608
            " FOR SHARE OF c", actor.is_operator, actor.id, complaint_id)
        if row is None:
            raise NotFound(f"no complaint {complaint_id}")
        recipients = {r["id"] for r in row["routed_to"]}
        if actor.id not in recipients and not (actor.is_operator and OPERATORS in recipients):
            raise Forbidden("only those a complaint was routed to respond to it")
        response_id = new_id("cr")
        made = await conn.fetchrow(
            """INSERT INTO complaint_responses (id, origin, complaint_id, responder_id, outcome,
                   summary) VALUES ($1, $2, $3, $4, $5, $6)
               RETURNING id, origin, complaint_id, responder_id, outcome, summary, at""",
            response_id, await changelog.node_id(conn), complaint_id, actor.id, data.outcome,
            summary,
        )
        assert made is not None
        response = msgspec.convert(dict(made), ComplaintResponse)
        await changelog.append_one(conn, RESPONSE_TYPE, response_id, response)
        await record_evidence(conn, actor, RESPONSE_TYPE, response_id)
        return await get_complaint(conn, complaint_id, actor)


async def apply_remote(
    conn: Connection, origin: str, complaint_id: str, c: ComplaintRecord
) -> None:
    """Hold a peer's complaint as its home node logged it."""
    await conn.execute(
        """INSERT INTO complaints (id, origin, source, filer_id, number, received_at, category,
               summary, respond_by, traceable, reason, routed_to, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (id) DO UPDATE SET summary = $8, respond_by = $9, routed_to = $12
           WHERE complaints.origin = $2""",
        complaint_id, origin, c.source, c.filer_id, c.number, c.received_at, c.category,
        c.summary, c.respond_by, c.traceable, c.reason, msgspec.to_builtins(c.routed_to),
        c.created_at,
    )


async def apply_remote_response(
    conn: Connection, origin: str, response_id: str, r: ComplaintResponse
) -> None:
    await conn.execute(
        """INSERT INTO complaint_responses (id, origin, complaint_id, responder_id, outcome,
               summary, at) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO UPDATE SET outcome = $5, summary = $6
           WHERE complaint_responses.origin = $2""",
        response_id, origin, r.complaint_id, r.responder_id, r.outcome, r.summary, r.at,
    )
