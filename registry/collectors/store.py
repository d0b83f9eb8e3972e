"""Collector filings: filed by members, reviewed and revoked by operators (Art. 6(二)4, 19).

Visibility is part of every query: a filing is read with the caller's scope in its WHERE
clause, so another member's filing is simply not found (404), never fetched and refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.collectors import prc_id, rules
from registry.collectors.model import (
    CollectorFiling,
    CollectorFilingCreate,
    CollectorFilingRecord,
    FilingEvent,
    FilingPage,
    Review,
    Revocation,
    Subject,
)
from registry.collectors.subject_hash import SubjectKeys
from registry.db import Connection
from registry.errors import Forbidden, NotFound
from registry.events import model as events
from registry.events.outbox import emit
from registry.ids import new_id
from registry.paging import decode_time_cursor, time_cursor
from registry.records import check_reason, refuse_foreign

RECORD_TYPE = "collector_filing"
# Filers are in China: "not in the future" is judged by the date there.
_FILERS_TZ = ZoneInfo("Asia/Shanghai")

# A published filing past its expiry is shown as "expired"; the stored status stays.
STATUS_NOW = (
    "CASE WHEN f.status = 'published' AND f.expires_at <= now() THEN 'expired'"
    " ELSE f.status END"
)
_SELECT = f"""
SELECT f.id, f.origin, {STATUS_NOW} AS status, f.status AS stored_status, f.filer_id,
       f.filer_kind, f.id_type, f.subject_hash, f.hash_version, f.name_masked, f.id_masked,
       f.violations, f.incident_on, f.dismissed_on, f.summary, f.evidence_sha256,
       f.created_at, f.published_at, f.expires_at, f.history
FROM collector_filings f
"""  # noqa: S608  (constant fragments only; every value is a $n parameter)
_LOCK_FILING = f"""
SELECT {STATUS_NOW} AS status, f.origin, n.node_id, f.history
FROM collector_filings f, node_identity n WHERE f.id = $1 FOR UPDATE OF f
"""  # noqa: S608
# Operators see every filing; a member only its own.
_VISIBLE = "($1::boolean OR f.filer_id = $2)"


def _filing(row: asyncpg.Record) -> CollectorFiling:
    return CollectorFiling(
        id=row["id"], origin=row["origin"], status=row["status"], filer_id=row["filer_id"],
        filer_kind=row["filer_kind"], id_type=row["id_type"],
        subject=Subject(row["name_masked"], row["id_masked"]),
        violations=list(row["violations"]), incident_on=row["incident_on"],
        dismissed_on=row["dismissed_on"], summary=row["summary"],
        evidence_sha256=list(row["evidence_sha256"]), created_at=row["created_at"],
        published_at=row["published_at"], expires_at=row["expires_at"],
        history=msgspec.convert(row["history"], list[FilingEvent]),
    )


def log_data(row: asyncpg.Record) -> CollectorFilingRecord:
    """Self-contained for a peer: masks and the keyed hash, never the number or full name."""
    shown = _filing(row)
    fields = {f: getattr(shown, f) for f in shown.__struct_fields__}
    fields["status"] = row["stored_status"]
    return CollectorFilingRecord(**fields, subject_hash=row["subject_hash"],
                                 hash_version=row["hash_version"])


async def _row(conn: Connection, filing_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(_SELECT + " WHERE f.id = $1", filing_id)
    assert row is not None
    return row


async def get_filing(conn: Connection, filing_id: str, actor: Actor) -> CollectorFiling:
    row = await conn.fetchrow(
        _SELECT + f" WHERE {_VISIBLE} AND f.id = $3", actor.is_operator, actor.id, filing_id
    )
    if row is None:
        raise NotFound(f"no collector filing {filing_id}")
    return _filing(row)


def _event(status: str, reason: str, by: str, at: datetime) -> dict[str, Any]:
    return {"status": status, "reason": reason, "at": at.isoformat(), "by": by}


async def create_filing(
    conn: Connection, keys: SubjectKeys, data: CollectorFilingCreate, actor: Actor
) -> CollectorFiling:
    number, digests = rules.check_new_filing(data, datetime.now(_FILERS_TZ).date())
    if actor.member_kind is None:
        raise Forbidden("only members file collectors")
    filing_id = new_id("cf")
    async with conn.transaction():
        origin = await changelog.node_id(conn)
        now: datetime = await conn.fetchval("SELECT now()")
        await conn.execute(
            """INSERT INTO collector_filings (id, origin, status, filer_id, filer_kind, id_type,
                   subject_hash, hash_version, name_masked, id_masked, violations, incident_on,
                   dismissed_on, summary, evidence_sha256, history, created_at)
               VALUES ($1, $2, 'submitted', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                       $14, $15, $16)""",
            filing_id, origin, actor.id, actor.member_kind, data.id_type,
            keys.digest(data.id_type, number), keys.current,
            prc_id.mask_name(data.name), prc_id.mask_id(number), data.violations,
            data.incident_on, data.dismissed_on, data.summary.strip(), digests,
            [_event("submitted", "filed", actor.id, now)], now,
        )
        row = await _row(conn, filing_id)
        await changelog.append_one(conn, RECORD_TYPE, filing_id, log_data(row))
        await record_evidence(conn, actor, RECORD_TYPE, filing_id)
    return _filing(row)


async def _lock_home_filing(conn: Connection, filing_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        _LOCK_FILING,
        filing_id,
    )
    if row is None:
        raise NotFound(f"no collector filing {filing_id}")
    refuse_foreign(row["origin"], row["node_id"], f"filing {filing_id}")
    return row


# The operator's decision as the filer is told it, by the status it leads to.
_DECISIONS = {"published": "publish", "rejected": "reject", "revoked": "revoke"}


async def _move(
    conn: Connection, filing_id: str, wanted: str, reason: str, actor: Actor,
    publish_years: int = 0,
) -> CollectorFiling:
    async with conn.transaction():
        locked = await _lock_home_filing(conn, filing_id)
        rules.check_transition(locked["status"], wanted)
        now: datetime = await conn.fetchval("SELECT now()")
        history = [*locked["history"], _event(wanted, reason, actor.id, now)]
        await conn.execute(
            """UPDATE collector_filings SET status = $2, history = $3, updated_at = $4,
                   published_at = CASE WHEN $2 = 'published' THEN $4 ELSE published_at END,
                   expires_at = CASE WHEN $2 = 'published'
                                THEN $4 + make_interval(years => $5) ELSE expires_at END
               WHERE id = $1""",
            filing_id, wanted, history, now, publish_years,
        )
        row = await _row(conn, filing_id)
        await changelog.append_one(conn, RECORD_TYPE, filing_id, log_data(row))
        await record_evidence(conn, actor, RECORD_TYPE, filing_id)
        await emit(conn, events.FILING_REVIEWED, events.EventSubject(RECORD_TYPE, filing_id),
                   events.FilingReviewed(filing_id=filing_id, decision=_DECISIONS[wanted],
                                         status=wanted, reason=reason),
                   [row["filer_id"]])
    return _filing(row)


async def review(
    conn: Connection, filing_id: str, data: Review, actor: Actor, publish_years: int
) -> CollectorFiling:
    reason = check_reason(data.reason)
    wanted = "published" if data.decision == "publish" else "rejected"
    return await _move(conn, filing_id, wanted, reason, actor, publish_years)


async def revoke(
    conn: Connection, filing_id: str, data: Revocation, actor: Actor
) -> CollectorFiling:
    return await _move(conn, filing_id, "revoked", check_reason(data.reason), actor)


async def list_filings(
    conn: Connection, actor: Actor, *, status: str | None = None, cursor: str | None = None,
    limit: int = 50,
) -> FilingPage:
    """The operators' review queue (every filing), or a member's own filings."""
    after_at, after_id = decode_time_cursor(cursor)
    rows = await conn.fetch(
        _SELECT + f""" WHERE {_VISIBLE}
          AND ($3::text IS NULL OR {STATUS_NOW} = $3)
          AND ($4::timestamptz IS NULL OR (f.created_at, f.id) > ($4, $5))
        ORDER BY f.created_at, f.id LIMIT $6""",
        actor.is_operator, actor.id, status, after_at, after_id, limit + 1,
    )
    items = [_filing(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = time_cursor(items[-1].created_at, items[-1].id)
    return FilingPage(items, next_cursor)


async def apply_remote(
    conn: Connection, origin: str, filing_id: str, filing: CollectorFilingRecord
) -> None:
    """Hold a peer's filing as its home node last logged it."""
    history = msgspec.to_builtins(filing.history)
    await conn.execute(
        """INSERT INTO collector_filings (id, origin, status, filer_id, filer_kind, id_type,
               subject_hash, hash_version, name_masked, id_masked, violations, incident_on,
               dismissed_on, summary, evidence_sha256, history, created_at, published_at,
               expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18, $19)
           ON CONFLICT (id) DO UPDATE SET status = $3, violations = $11, summary = $14,
               evidence_sha256 = $15, history = $16, published_at = $18, expires_at = $19,
               updated_at = now()
           WHERE collector_filings.origin = $2""",
        filing_id, origin, filing.status, filing.filer_id, filing.filer_kind, filing.id_type,
        filing.subject_hash, filing.hash_version, filing.subject.name_masked,
        filing.subject.id_masked, filing.violations, filing.incident_on, filing.dismissed_on,
        filing.summary, filing.evidence_sha256, history, filing.created_at,
        filing.published_at, filing.expires_at,
    )
