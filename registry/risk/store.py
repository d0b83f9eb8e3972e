"""Risk-event reports: filed by members, followed up by their reporter, read by operators.

A report is visible to its reporter and to operators; the scope is in every WHERE clause.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.db import Connection
from registry.errors import Forbidden, Invalid, NotFound
from registry.ids import new_id
from registry.paging import decode_cursor, encode_cursor
from registry.records import refuse_foreign
from registry.risk import rules
from registry.risk.model import RiskEvent, RiskEventCreate, RiskEventPage, RiskUpdateCreate

RECORD_TYPE = "risk_event"

_SELECT = """
SELECT x.id, x.origin, x.reporter_id, x.reporter_kind, x.category, x.discovered_at,
       x.reported_at, x.due_at, x.late, x.summary, x.cause,
       x.situation, x.impact, x.measures, x.updates
FROM risk_events x
"""
_VISIBLE = "($1::boolean OR x.reporter_id = $2)"
_LOCK_EVENT = f"""
SELECT x.reporter_id, x.origin, x.updates, n.node_id FROM risk_events x, node_identity n
WHERE {_VISIBLE} AND x.id = $3 FOR UPDATE OF x
"""  # noqa: S608  (constant fragments only; every value is a $n parameter)


def _event(row: asyncpg.Record) -> RiskEvent:
    return msgspec.convert(dict(row), RiskEvent)


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
    async with conn.transaction():
        # The database clock decides "reported at", so every worker judges lateness alike.
        now: datetime = await conn.fetchval("SELECT now()")
        rules.check_discovery(data.discovered_at, now)
        await conn.execute(
            """INSERT INTO risk_events (id, origin, reporter_id, reporter_kind, category,
                   discovered_at, reported_at, due_at, summary, cause, situation, impact,
                   measures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
            event_id, await changelog.node_id(conn), actor.id, actor.member_kind, data.category,
            data.discovered_at, now, rules.due_at(data.discovered_at), summary,
            _optional(data.cause), _optional(data.situation), _optional(data.impact),
            _optional(data.measures),
        )
        return await _log(conn, event_id, actor)


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
        update = {"at": now.isoformat(), "by": actor.id, "summary": summary,
                  "situation": _optional(data.situation), "measures": _optional(data.measures)}
        await conn.execute(
            "UPDATE risk_events SET updates = $2, updated_at = $3 WHERE id = $1",
            event_id, [*row["updates"], update], now,
        )
        return await _log(conn, event_id, actor)


async def list_events(
    conn: Connection, actor: Actor, *, category: str | None = None, late: bool | None = None,
    reporter_id: str | None = None, cursor: str | None = None, limit: int = 50,
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
        ORDER BY x.late DESC, x.reported_at DESC, x.id DESC LIMIT $9""",
        actor.is_operator, actor.id, category, late, reporter_id, *after, limit + 1,
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
               updates) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (id) DO UPDATE SET summary = $9, cause = $10, situation = $11,
               impact = $12, measures = $13, updates = $14, updated_at = now()
           WHERE risk_events.origin = $2""",
        event_id, origin, e.reporter_id, e.reporter_kind, e.category, e.discovered_at,
        e.reported_at, e.due_at, e.summary, e.cause, e.situation, e.impact, e.measures,
        msgspec.to_builtins(e.updates),
    )
