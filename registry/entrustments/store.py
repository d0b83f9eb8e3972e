"""Entrustment storage: each write is one transaction with its change-log entry and evidence."""

from __future__ import annotations

from datetime import date

import asyncpg

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.db import Connection
from registry.entrustments import rules
from registry.entrustments.model import (
    Entrustment,
    EntrustmentCreate,
    EntrustmentEnd,
    EntrustmentPage,
    EntrustmentRecord,
    PublicAgencies,
    PublicAgency,
)
from registry.errors import Conflict, Forbidden, NotFound
from registry.ids import new_id
from registry.paging import decode_time_cursor, time_cursor
from registry.records import check_reason, refuse_foreign

RECORD_TYPE = "entrustment"

_SELECT = """SELECT id, origin, lender_id, agency_id, starts_on, ends_on, subcontracting_allowed,
       parent_id, ended, ended_at, end_reason, created_at FROM entrustments"""

def _entrustment(row: asyncpg.Record) -> Entrustment:
    return Entrustment(**dict(row.items()))


def log_data(e: Entrustment) -> EntrustmentRecord:
    return EntrustmentRecord(**{f: getattr(e, f) for f in EntrustmentRecord.__struct_fields__})


def visible_to(entrustment: Entrustment, actor: Actor) -> bool:
    """A lender sees its own, an agency those naming it, operators all."""
    return actor.is_operator or actor.id in (entrustment.lender_id, entrustment.agency_id)


async def fetch(conn: Connection, entrustment_id: str, *, lock: bool = False) -> Entrustment:
    row = await conn.fetchrow(_SELECT + " WHERE id = $1" + (" FOR UPDATE" if lock else ""),
                              entrustment_id)
    if row is None:
        raise NotFound(f"no entrustment {entrustment_id}")
    return _entrustment(row)


async def get_entrustment(conn: Connection, entrustment_id: str, actor: Actor) -> Entrustment:
    entrustment = await fetch(conn, entrustment_id)
    if not visible_to(entrustment, actor):
        # Other members' entrustments are not theirs to know of.
        raise NotFound(f"no entrustment {entrustment_id}")
    return entrustment


async def create_entrustment(
    conn: Connection, data: EntrustmentCreate, actor: Actor
) -> Entrustment:
    rules.check_dates(data)
    async with conn.transaction():
        agency = await conn.fetchrow(
            "SELECT kind, status FROM members WHERE id = $1 FOR SHARE", data.agency_id
        )
        rules.check_agency(None if agency is None else (agency["kind"], agency["status"]))
        if data.parent_id is not None:
            parent = await fetch(conn, data.parent_id, lock=True)
            rules.check_subcontract(parent, actor.id, data)
        entrustment_id = new_id("e")
        origin = await changelog.node_id(conn)
        await conn.execute(
            """INSERT INTO entrustments (id, origin, lender_id, agency_id, starts_on, ends_on,
                                        subcontracting_allowed, parent_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            entrustment_id, origin, actor.id, data.agency_id, data.starts_on, data.ends_on,
            data.subcontracting_allowed, data.parent_id,
        )
        entrustment = await fetch(conn, entrustment_id)
        await changelog.append_one(conn, RECORD_TYPE, entrustment_id, log_data(entrustment))
        await record_evidence(conn, actor, RECORD_TYPE, entrustment_id)
    return entrustment


async def end_entrustment(
    conn: Connection, entrustment_id: str, data: EntrustmentEnd, actor: Actor
) -> Entrustment:
    reason = check_reason(data.reason)
    async with conn.transaction():
        current = await fetch(conn, entrustment_id, lock=True)
        if current.lender_id != actor.id:
            if visible_to(current, actor):
                raise Forbidden("only its lender may end an entrustment")
            raise NotFound(f"no entrustment {entrustment_id}")
        refuse_foreign(current.origin, await changelog.node_id(conn),
                       f"entrustment {entrustment_id}")
        if current.ended:
            raise Conflict("the entrustment has already ended", code="already_ended")
        await conn.execute(
            """UPDATE entrustments SET ended = true, ended_at = now(), end_reason = $2,
                      ends_on = $3
               WHERE id = $1""",
            entrustment_id, reason, rules.end_on(current, rules.today()),
        )
        entrustment = await fetch(conn, entrustment_id)
        await changelog.append_one(conn, RECORD_TYPE, entrustment_id, log_data(entrustment))
        await record_evidence(conn, actor, RECORD_TYPE, entrustment_id)
    return entrustment


async def list_entrustments(
    conn: Connection, actor: Actor, *, lender_id: str | None = None,
    agency_id: str | None = None, cursor: str | None = None, limit: int = 50,
) -> EntrustmentPage:
    if not actor.is_operator:
        # Members see only their side of an entrustment, whatever they ask for.
        if actor.member_kind == rules.AGENCY_KIND:
            agency_id = actor.id
        else:
            lender_id = actor.id
    after_at, after_id = decode_time_cursor(cursor)
    rows = await conn.fetch(
        _SELECT + """ WHERE ($1::text IS NULL OR lender_id = $1)
          AND ($2::text IS NULL OR agency_id = $2)
          AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
        ORDER BY created_at, id LIMIT $5""",
        lender_id, agency_id, after_at, after_id, limit + 1,
    )
    items = [_entrustment(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = time_cursor(items[-1].created_at, items[-1].id)
    return EntrustmentPage(items, next_cursor)


async def public_agencies(conn: Connection, lender_id: str, on: date) -> PublicAgencies:
    """A lender's current agencies and their complaint channels, for anyone to read."""
    lender = await conn.fetchrow(
        "SELECT id, name, uscc FROM members WHERE id = $1 AND kind IN ('lender', 'debt_buyer')"
        " AND status <> 'removed'", lender_id,
    )
    if lender is None:
        raise NotFound(f"no lender {lender_id}")
    rows = await conn.fetch(
        """SELECT m.id, m.name, m.uscc, m.complaints, min(e.starts_on) AS starts_on,
                  max(e.ends_on) AS ends_on
           FROM entrustments e
           JOIN members m ON m.id = e.agency_id
           LEFT JOIN entrustments p ON p.id = e.parent_id
           WHERE e.lender_id = $1 AND NOT e.ended AND e.starts_on <= $2 AND e.ends_on >= $2
             AND (p.id IS NULL OR (NOT p.ended AND p.starts_on <= $2 AND p.ends_on >= $2))
             AND m.status = 'active'
           GROUP BY m.id, m.name, m.uscc, m.complaints
           ORDER BY m.name, m.id""",
        lender_id, on,
    )
    return PublicAgencies(
        {"id": lender["id"], "name": lender["name"], "uscc": lender["uscc"]},
        [PublicAgency(r["id"], r["name"], r["uscc"], r["starts_on"], r["ends_on"],
                      dict(r["complaints"])) for r in rows],
    )


async def apply_remote(
    conn: Connection, origin: str, entrustment_id: str, e: EntrustmentRecord
) -> None:
    """Hold a peer's entrustment as its home node last logged it."""
    await conn.execute(
        """INSERT INTO entrustments (id, origin, lender_id, agency_id, starts_on, ends_on,
               subcontracting_allowed, parent_id, ended, ended_at, end_reason, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET lender_id = $3, agency_id = $4, starts_on = $5,
               ends_on = $6, subcontracting_allowed = $7, parent_id = $8, ended = $9,
               ended_at = $10, end_reason = $11
           WHERE entrustments.origin = $2""",
        entrustment_id, origin, e.lender_id, e.agency_id, e.starts_on, e.ends_on,
        e.subcontracting_allowed, e.parent_id, e.ended, e.ended_at, e.end_reason, e.created_at,
    )
