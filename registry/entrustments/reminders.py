"""The supervision calendar told to those it concerns (API.md §14, Article 18): a periodic
job that finds evaluations falling due and open rectifications past their date, and emits
`evaluation.due` (to the lender) and `rectification.overdue` (to the lender and the agency).

Each item is told once per due date: the outbox's `once` key is the record and its due date,
so a job that runs every hour tells of it once, and a new evaluation (which moves the due
date) is told of anew. The dates are judged by rules.py, as in every entrustment answer.
Only this node's records are told of: a peer tells the members it serves (docs/events.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date

import asyncpg
import msgspec
import structlog

from registry import changelog
from registry.db import Connection
from registry.entrustments import rules, stats
from registry.events import model as events
from registry.events.outbox import emit_all

log = structlog.get_logger("registry.reminders")
LOCK = 0x524D_4E44  # "RMND": one worker of the node runs the job at a time

_OPEN_RECTIFICATIONS = """
SELECT r.id, r.entrustment_id, r.lender_id, r.cause, r.due_on, r.status, e.agency_id
FROM rectifications r JOIN entrustments e ON e.id = r.entrustment_id
WHERE r.status = 'open' AND r.origin = $1
ORDER BY r.due_on, r.id
"""
_TOLD = """
SELECT k.recipient, k.type, k.once_key
FROM unnest($1::text[], $2::text[], $3::text[]) AS k(recipient, type, once_key)
WHERE EXISTS (SELECT 1 FROM events e WHERE e.recipient = k.recipient AND e.type = k.type
                                         AND e.once_key = k.once_key)
"""


class Reminded(msgspec.Struct, frozen=True, kw_only=True):
    """What one run told (new events only), and how many items it could not."""

    evaluations_due: int = 0
    rectifications_overdue: int = 0
    failed: int = 0
    # Another worker of the node held the job: this one did nothing.
    skipped: bool = False


def _once(record_id: str, due_on: date) -> str:
    return f"{record_id}@{due_on.isoformat()}"


def evaluation_due(item: stats.InForce, on: date, notice_days: int) -> events.Draft | None:
    """The lender's reminder of its agency's evaluation, once it falls due."""
    record = item.record
    due_on = rules.evaluation_due_on(record, item.last_period_end)
    if due_on is None or not rules.evaluation_falling_due(record, due_on, on, notice_days):
        return None
    return events.Draft(
        events.EVALUATION_DUE, events.EventSubject("entrustment", record.id),
        events.EvaluationDue(entrustment_id=record.id, lender_id=record.lender_id,
                             agency_id=record.agency_id, due_on=due_on,
                             overdue=rules.evaluation_overdue(record, due_on, on)),
        (record.lender_id,), once=_once(record.id, due_on))


def rectification_overdue(row: asyncpg.Record, on: date) -> events.Draft | None:
    """The lender that ordered it and the agency that owes it are both told."""
    if not rules.rectification_overdue(row["status"], row["due_on"], on):
        return None
    return events.Draft(
        events.RECTIFICATION_OVERDUE, events.EventSubject("rectification", row["id"]),
        events.RectificationOverdue(
            rectification_id=row["id"], entrustment_id=row["entrustment_id"],
            lender_id=row["lender_id"], agency_id=row["agency_id"], cause=row["cause"],
            due_on=row["due_on"]),
        (row["lender_id"], row["agency_id"]), once=_once(row["id"], row["due_on"]))


async def _untold(conn: Connection, drafts: Sequence[events.Draft]) -> list[events.Draft]:
    """The drafts some recipient has not been told of yet: a run that finds nothing new
    takes no append lock at all (the outbox's `once` key still decides under a race)."""
    keys = [(r, d.type, str(d.once)) for d in drafts for r in d.recipients]
    told = {(r["recipient"], r["type"], r["once_key"]) for r in await conn.fetch(
        _TOLD, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])}
    return [d for d in drafts if any((r, d.type, d.once) not in told for r in d.recipients)]


async def remind(conn: Connection, *, notice_days: int, on: date | None = None) -> Reminded:
    """Tell of every evaluation falling due within `notice_days` of `on` (a Beijing date,
    today unless given) and every open rectification past its date, each once. An item
    whose event the database refuses is logged and spares the others; it is tried again
    on the next run."""
    on = on or rules.today()
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK):
            return Reminded(skipped=True)
        node = await changelog.node_id(conn)
        found = [evaluation_due(item, on, notice_days)
                 for item in await stats.in_force_on(conn, on) if item.origin == node]
        found += [rectification_overdue(row, on)
                  for row in await conn.fetch(_OPEN_RECTIFICATIONS, node)]
        drafts = await _untold(conn, [d for d in found if d is not None])
        told = await _emit_each(conn, drafts)
    return Reminded(
        evaluations_due=sum(d.type == events.EVALUATION_DUE for d in told),
        rectifications_overdue=sum(d.type == events.RECTIFICATION_OVERDUE for d in told),
        failed=len(drafts) - len(told))


async def _emit_each(conn: Connection, drafts: list[events.Draft]) -> list[events.Draft]:
    """Emit the drafts in one statement (the change log's append lock is then held only
    briefly); should the database refuse it, one at a time, each in a savepoint, so an
    item's fault is logged and spares the rest. Returns those emitted."""
    with contextlib.suppress(asyncpg.PostgresError):
        async with conn.transaction():
            await emit_all(conn, drafts)
        return drafts
    emitted = []
    for draft in drafts:
        try:
            async with conn.transaction():
                await emit_all(conn, [draft])
        except asyncpg.PostgresError:
            log.warning("reminder_failed", subject=draft.subject.id, exc_info=True)
        else:
            emitted.append(draft)
    return emitted
