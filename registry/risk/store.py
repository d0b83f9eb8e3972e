"""Risk-event reports: filed by members, followed up by their reporter, read by operators.

A report is visible to its reporter and to operators, and an agency's personal-data
breach also to the lenders and debt buyers entrusting it (Article 21(二)): in force on
the day of the discovery, or now. The scope is in every WHERE clause.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.db import Connection
from registry.entrustments.rules import today
from registry.entrustments.store import entrusting_lenders
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from registry.events import model as events
from registry.events.outbox import emit
from registry.ids import new_id
from registry.paging import decode_cursor, encode_cursor
from registry.records import refuse_foreign
from registry.risk import rules
from registry.risk.model import (
    RiskEvent,
    RiskEventCreate,
    RiskEventPage,
    RiskForward,
    RiskUpdate,
    RiskUpdateCreate,
)

RECORD_TYPE = "risk_event"

_SELECT = """
SELECT x.id, x.origin, x.reporter_id, x.reporter_kind, x.category, x.discovered_at,
       x.reported_at, x.due_at, x.late, x.summary, x.cause,
       x.situation, x.impact, x.measures, x.updates, x.institution_id, x.incomplete,
       x.acknowledged_at, x.acknowledged_by, x.forwarded_at, x.forwarded_by, x.forwarded_to
FROM risk_events x
"""
_VISIBLE = """($1::boolean OR x.reporter_id = $2
  OR (x.category = 'personal_data_breach' AND x.reporter_kind = 'collection_agency'
      AND EXISTS (SELECT 1 FROM entrustments e
                  WHERE e.agency_id = x.reporter_id AND e.lender_id = $2
                    AND ((e.starts_on <= (x.discovered_at AT TIME ZONE 'Asia/Shanghai')::date
                          AND e.ends_on >= (x.discovered_at AT TIME ZONE 'Asia/Shanghai')::date
                          AND (NOT e.ended OR e.ended_at > x.discovered_at))
                         OR (NOT e.ended
                             AND e.starts_on <= (now() AT TIME ZONE 'Asia/Shanghai')::date
                             AND e.ends_on >= (now() AT TIME ZONE 'Asia/Shanghai')::date)))))"""
_LOCK_EVENT = f"""
SELECT x.reporter_id, x.origin, x.updates, n.node_id FROM risk_events x, node_identity n
WHERE {_VISIBLE} AND x.id = $3 FOR UPDATE OF x
"""  # noqa: S608  (constant fragments only; every value is a $n parameter)


def _event(row: asyncpg.Record) -> RiskEvent:
    event = msgspec.convert(dict(row), RiskEvent)
    event.lender_due_at = rules.lender_due_at(
        event.category, event.reporter_kind, event.discovered_at)
    return event


async def _log(conn: Connection, event_id: str, actor: Actor) -> RiskEvent:
    row = await conn.fetchrow(_SELECT + " WHERE x.id = $1", event_id)
    assert row is not None
    event = _event(row)
    await changelog.append_one(conn, RECORD_TYPE, event_id, event)
    await record_evidence(conn, actor, RECORD_TYPE, event_id)
    return event


def _optional(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


async def create_event(conn: Connection, data: RiskEventCreate, actor: Actor) -> RiskEvent:
    if actor.member_kind is None:
        raise Forbidden("risk events are reported by members")
    summary = rules.check_text("summary", data.summary)
    event_id = new_id("re")
    institution_id = data.institution_id or actor.id
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM members WHERE id = $1", institution_id) is None:
            raise Invalid.field("institution_id", "no such member")
        # The database clock decides "reported at", so every worker judges lateness alike.
        now: datetime = await conn.fetchval("SELECT now()")
        rules.check_discovery(data.discovered_at, now)
        await conn.execute(
            """INSERT INTO risk_events (id, origin, reporter_id, reporter_kind, category,
                   discovered_at, reported_at, due_at, summary, cause, situation, impact,
                   measures, institution_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
            event_id, await changelog.node_id(conn), actor.id, actor.member_kind, data.category,
            data.discovered_at, now, rules.due_at(data.discovered_at), summary,
            _optional(data.cause), _optional(data.situation), _optional(data.impact),
            _optional(data.measures), institution_id,
        )
        event = await _log(conn, event_id, actor)
        if event.lender_due_at is not None:
            await emit(conn, events.RISK_EVENT_SHARED, events.EventSubject(RECORD_TYPE, event_id),
                       events.RiskEventShared(
                           risk_event_id=event_id, reporter_id=actor.id,
                           category=event.category, discovered_at=event.discovered_at,
                           lender_due_at=event.lender_due_at),
                       await entrusting_lenders(conn, actor.id, today()))
        return event


async def get_event(conn: Connection, event_id: str, actor: Actor) -> RiskEvent:
    row = await conn.fetchrow(
        _SELECT + f" WHERE {_VISIBLE} AND x.id = $3", actor.is_operator, actor.id, event_id
    )
    if row is None:
        raise NotFound(f"no risk event {event_id}")
    return _event(row)


async def add_update(
    conn: Connection, event_id: str, data: RiskUpdateCreate, actor: Actor
) -> RiskEvent:
    """A follow-up by the reporter: how the situation developed, what was done since."""
    summary = rules.check_text("summary", data.summary)
    async with conn.transaction():
        row = await conn.fetchrow(
            _LOCK_EVENT,
            actor.is_operator, actor.id, event_id,
        )
        if row is None:
            raise NotFound(f"no risk event {event_id}")
        if row["reporter_id"] != actor.id:
            raise Forbidden("only the reporter follows up its report")
        refuse_foreign(row["origin"], row["node_id"], f"risk event {event_id}")
        now: datetime = await conn.fetchval("SELECT now()")
        update = RiskUpdate(
            at=now, by=actor.id, summary=summary, cause=_optional(data.cause),
            situation=_optional(data.situation), impact=_optional(data.impact),
            measures=_optional(data.measures))
        # What the first report left out, an update supplies; what it stated stays as
        # stated (later developments are in `updates`).
        await conn.execute(
            """UPDATE risk_events SET updates = $2, updated_at = $3,
                   cause = coalesce(cause, $4), situation = coalesce(situation, $5),
                   impact = coalesce(impact, $6), measures = coalesce(measures, $7)
               WHERE id = $1""",
            event_id, [*row["updates"], msgspec.to_builtins(update)], now,
            update.cause, update.situation, update.impact, update.measures,
        )
        return await _log(conn, event_id, actor)


async def follow_up(
    conn: Connection, event_id: str, actor: Actor, *, forward: RiskForward | None = None
) -> RiskEvent:
    """An operator acknowledges a report, or notes that it was forwarded to the regulator
    (which acknowledges it too), with who and when; each once, on the report's home node."""
    if not actor.is_operator:
        raise Forbidden("only operators acknowledge and forward reports")
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT x.origin, x.acknowledged_at, x.forwarded_at, n.node_id"
            " FROM risk_events x, node_identity n WHERE x.id = $1 FOR UPDATE OF x", event_id)
        if row is None:
            raise NotFound(f"no risk event {event_id}")
        refuse_foreign(row["origin"], row["node_id"], f"risk event {event_id}")
        if forward is None:
            if row["acknowledged_at"] is not None:
                raise Conflict("the report was acknowledged already",
                               code="already_acknowledged")
        elif row["forwarded_at"] is not None:
            raise Conflict("the report was forwarded already", code="already_forwarded")
        await conn.execute(
            """UPDATE risk_events SET updated_at = now(),
                   acknowledged_at = coalesce(acknowledged_at, now()),
                   acknowledged_by = coalesce(acknowledged_by, $2),
                   forwarded_at = CASE WHEN $3 THEN now() ELSE forwarded_at END,
                   forwarded_by = CASE WHEN $3 THEN $2 ELSE forwarded_by END,
                   forwarded_to = CASE WHEN $3 THEN $4 ELSE forwarded_to END
               WHERE id = $1""",
            event_id, actor.id, forward is not None,
            _optional(forward.to) if forward is not None else None,
        )
        return await _log(conn, event_id, actor)


async def list_events(
    conn: Connection, actor: Actor, *, category: str | None = None, late: bool | None = None,
    reporter_id: str | None = None, incomplete: bool | None = None,
    cursor: str | None = None, limit: int = 50,
) -> RiskEventPage:
    """Late reports first, then newest first: what an operator must chase comes first."""
    after: tuple[bool, datetime, str] | tuple[None, None, None] = (None, None, None)
    if cursor:
        key = decode_cursor(cursor)
        try:
            after = (bool(key[0]), datetime.fromisoformat(str(key[1])), str(key[2]))
        except (IndexError, ValueError) as exc:
            raise Invalid.field("cursor", "not a cursor this registry issued") from exc
    rows = await conn.fetch(
        _SELECT + f""" WHERE {_VISIBLE}
          AND ($3::text IS NULL OR x.category = $3)
          AND ($4::boolean IS NULL OR x.late = $4)
          AND ($5::text IS NULL OR x.reporter_id = $5)
          AND ($6::boolean IS NULL
               OR (x.late, x.reported_at, x.id) < ($6, $7, $8))
          AND ($10::boolean IS NULL OR x.incomplete = $10)
        ORDER BY x.late DESC, x.reported_at DESC, x.id DESC LIMIT $9""",
        actor.is_operator, actor.id, category, late, reporter_id, *after, limit + 1,
        incomplete,
    )
    items = [_event(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(int(last.late), last.reported_at.isoformat(), last.id)
    return RiskEventPage(items, next_cursor)


async def events_between(
    conn: Connection, since: datetime | None, until: datetime | None
) -> list[RiskEvent]:
    """Every report received in [since, until), oldest first: the regulators' export."""
    rows = await conn.fetch(
        _SELECT + """ WHERE ($1::timestamptz IS NULL OR x.reported_at >= $1)
          AND ($2::timestamptz IS NULL OR x.reported_at < $2)
        ORDER BY x.reported_at, x.id""",
        since, until,
    )
    return [_event(r) for r in rows]


async def apply_remote(
    conn: Connection, origin: str, event_id: str, e: RiskEvent
) -> None:
    """Hold a peer's report as its home node last logged it."""
    await conn.execute(
        """INSERT INTO risk_events (id, origin, reporter_id, reporter_kind, category,
               discovered_at, reported_at, due_at, summary, cause, situation, impact, measures,
               updates, institution_id, acknowledged_at, acknowledged_by, forwarded_at,
               forwarded_by, forwarded_to)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18, $19, $20)
           ON CONFLICT (id) DO UPDATE SET summary = $9, cause = $10, situation = $11,
               impact = $12, measures = $13, updates = $14, institution_id = $15,
               acknowledged_at = $16, acknowledged_by = $17, forwarded_at = $18,
               forwarded_by = $19, forwarded_to = $20, updated_at = now()
           WHERE risk_events.origin = $2""",
        event_id, origin, e.reporter_id, e.reporter_kind, e.category, e.discovered_at,
        e.reported_at, e.due_at, e.summary, e.cause, e.situation, e.impact, e.measures,
        msgspec.to_builtins(e.updates), e.institution_id, e.acknowledged_at,
        e.acknowledged_by, e.forwarded_at, e.forwarded_by, e.forwarded_to,
    )
