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
    PublicLender,
)
from registry.entrustments.views import one_with_supervision, with_supervision
from registry.errors import Conflict, Forbidden, NotFound
from registry.ids import new_id
from registry.paging import decode_time_cursor, time_cursor
from registry.records import check_reason, refuse_foreign

RECORD_TYPE = "entrustment"

_SELECT = """SELECT e.id, e.origin, e.lender_id, e.agency_id, e.starts_on, e.ends_on,
       e.subcontracting_allowed, e.parent_id, e.ended, e.ended_at, e.end_reason, e.created_at
FROM entrustments e"""

def _entrustment(row: asyncpg.Record) -> Entrustment:
    """The stored entrustment; its supervision is added by views.with_supervision."""
    return Entrustment(**dict(row.items()))


def log_data(e: Entrustment) -> EntrustmentRecord:
    return EntrustmentRecord(**{f: getattr(e, f) for f in EntrustmentRecord.__struct_fields__})


async def visible_to(conn: Connection, entrustment: Entrustment, actor: Actor) -> bool:
    """A lender sees its own, an agency those naming it and the subcontracts made under
    them, operators all."""
    if actor.is_operator or actor.id in (entrustment.lender_id, entrustment.agency_id):
        return True
    if entrustment.parent_id is None or actor.member_kind != rules.AGENCY_KIND:
        return False
    parent_agency = await conn.fetchval(
        "SELECT agency_id FROM entrustments WHERE id = $1", entrustment.parent_id)
    return bool(parent_agency == actor.id)


async def fetch(
    conn: Connection, entrustment_id: str, *, lock: bool = False
) -> Entrustment:
    row = await conn.fetchrow(_SELECT + " WHERE e.id = $1" + (" FOR UPDATE" if lock else ""),
                              entrustment_id)
    if row is None:
        raise NotFound(f"no entrustment {entrustment_id}")
    return _entrustment(row)


async def fetch_visible(
    conn: Connection, entrustment_id: str, actor: Actor, *, lock: bool = False
) -> Entrustment:
    entrustment = await fetch(conn, entrustment_id, lock=lock)
    if not await visible_to(conn, entrustment, actor):
        # Other members' entrustments are not theirs to know of.
        raise NotFound(f"no entrustment {entrustment_id}")
    return entrustment


async def get_entrustment(conn: Connection, entrustment_id: str, actor: Actor) -> Entrustment:
    return await one_with_supervision(conn, await fetch_visible(conn, entrustment_id, actor))


async def _check_lender_active(conn: Connection, actor: Actor) -> None:
    """Only an admitted lender entrusts (read now, not when its token was checked)."""
    status = await conn.fetchval(
        "SELECT status FROM members WHERE id = $1 FOR SHARE", actor.id)
    if status != "active":
        raise Forbidden(f"the lender is {status}, not active",
                        code=f"member_{status}" if status else "forbidden")


async def create_entrustment(
    conn: Connection, data: EntrustmentCreate, actor: Actor
) -> Entrustment:
    rules.check_dates(data)
    async with conn.transaction():
        await _check_lender_active(conn, actor)
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
        return await one_with_supervision(conn, entrustment)


async def fetch_as_lender(
    conn: Connection, entrustment_id: str, actor: Actor, what: str
) -> Entrustment:
    """The caller's own entrustment, locked, held on this node; 403 for its agency, 404 for
    anyone who may not see it."""
    current = await fetch_visible(conn, entrustment_id, actor, lock=True)
    if current.lender_id != actor.id:
        raise Forbidden(f"only its lender may {what}")
    refuse_foreign(current.origin, await changelog.node_id(conn),
                   f"entrustment {entrustment_id}")
    return current


async def end_now(
    conn: Connection, current: Entrustment, reason: str, actor: Actor
) -> Entrustment:
    """End a locked entrustment today with `reason`, inside the caller's transaction."""
    await conn.execute(
        """UPDATE entrustments SET ended = true, ended_at = now(), end_reason = $2,
                  ends_on = $3
           WHERE id = $1""",
        current.id, reason, rules.end_on(current, rules.today()),
    )
    entrustment = await fetch(conn, current.id)
    await changelog.append_one(conn, RECORD_TYPE, current.id, log_data(entrustment))
    await record_evidence(conn, actor, RECORD_TYPE, current.id)
    return entrustment


async def end_entrustment(
    conn: Connection, entrustment_id: str, data: EntrustmentEnd, actor: Actor
) -> Entrustment:
    reason = check_reason(data.reason)
    async with conn.transaction():
        current = await fetch_as_lender(conn, entrustment_id, actor, "end an entrustment")
        if current.ended:
            raise Conflict("the entrustment has already ended", code="already_ended")
        return await one_with_supervision(conn, await end_now(conn, current, reason, actor))


async def list_entrustments(
    conn: Connection, actor: Actor, *, lender_id: str | None = None,
    agency_id: str | None = None, cursor: str | None = None, limit: int = 50,
) -> EntrustmentPage:
    working_for = None
    if not actor.is_operator:
        # Members see only their side of an entrustment, whatever they ask for: an agency
        # those naming it and the subcontracts under them, a lender its own.
        if actor.member_kind == rules.AGENCY_KIND:
            working_for, agency_id = actor.id, None
        else:
            lender_id = actor.id
    after_at, after_id = decode_time_cursor(cursor)
    rows = await conn.fetch(
        _SELECT + """ LEFT JOIN entrustments p ON p.id = e.parent_id
        WHERE ($1::text IS NULL OR e.lender_id = $1)
          AND ($2::text IS NULL OR e.agency_id = $2)
          AND ($3::timestamptz IS NULL OR (e.created_at, e.id) > ($3, $4))
          AND ($6::text IS NULL OR e.agency_id = $6 OR p.agency_id = $6)
        ORDER BY e.created_at, e.id LIMIT $5""",
        lender_id, agency_id, after_at, after_id, limit + 1, working_for,
    )
    items = [_entrustment(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = time_cursor(items[-1].created_at, items[-1].id)
    return EntrustmentPage(await with_supervision(conn, items), next_cursor)


async def entrusting_lenders(conn: Connection, agency_id: str, on: date) -> list[str]:
    """The lenders and debt buyers with an entrustment of `agency_id` current `on`
    (a subcontract counts while the entrustment it hangs under is current too)."""
    rows = await conn.fetch(
        """SELECT DISTINCT e.lender_id FROM entrustments e
           LEFT JOIN entrustments p ON p.id = e.parent_id
           WHERE e.agency_id = $1 AND NOT e.ended AND e.starts_on <= $2 AND e.ends_on >= $2
             AND (p.id IS NULL OR (NOT p.ended AND p.starts_on <= $2 AND p.ends_on >= $2))
           ORDER BY e.lender_id""",
        agency_id, on,
    )
    return [r["lender_id"] for r in rows]


async def public_agencies(conn: Connection, lender_id: str, on: date) -> PublicAgencies:
    """A lender's (or debt buyer's) current agencies with their contact and complaint
    channels, and its own complaint channels, for anyone to read (Articles 13, 23)."""
    lender = await conn.fetchrow(
        "SELECT id, name, uscc, kind, complaints FROM members WHERE id = $1"
        " AND kind IN ('lender', 'debt_buyer') AND status <> 'removed'", lender_id,
    )
    if lender is None:
        raise NotFound(f"no lender {lender_id}")
    rows = await conn.fetch(
        """SELECT m.id, m.name, m.uscc, m.complaints, m.contact, min(e.starts_on) AS starts_on,
                  max(e.ends_on) AS ends_on
           FROM entrustments e
           JOIN members m ON m.id = e.agency_id
           LEFT JOIN entrustments p ON p.id = e.parent_id
           WHERE e.lender_id = $1 AND NOT e.ended AND e.starts_on <= $2 AND e.ends_on >= $2
             AND (p.id IS NULL OR (NOT p.ended AND p.starts_on <= $2 AND p.ends_on >= $2))
             AND m.status = 'active'
           GROUP BY m.id, m.name, m.uscc, m.complaints, m.contact
           ORDER BY m.name, m.id""",
        lender_id, on,
    )
    complaints = dict(lender["complaints"])
    return PublicAgencies(
        PublicLender(lender["id"], lender["name"], lender["uscc"], lender["kind"], complaints),
        [PublicAgency(r["id"], r["name"], r["uscc"], r["starts_on"], r["ends_on"],
                      dict(r["complaints"]), dict(r["contact"])) for r in rows],
        complaints,
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
