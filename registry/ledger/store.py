"""The ledger's storage: reports taken in, the allowance's counts, agreements, retention.

Every write appends to the change log in its own transaction and keeps the signed token;
debtors' numbers reach this module already hashed (registry/ledger/debtors.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import structlog

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.db import Connection
from registry.errors import Forbidden, Invalid, NotFound
from registry.ids import new_id
from registry.ledger import counting, rules
from registry.ledger.model import (
    Agreement,
    AgreementCreate,
    AgreementRecord,
    ContactReport,
    Hours,
    LoggedCall,
)
from registry.records import refuse_foreign

log = structlog.get_logger("registry.ledger")
REPORT = counting.RECORD_TYPE
AGREEMENT = "contact_agreement"
_RETENTION_LOCK = 0x4C45_4447  # "LEDG"

_HELD_UNDER_OLDER_KEYS = """
SELECT k.n FROM unnest($1::bytea[], $2::bigint[], $3::text[]) WITH ORDINALITY AS k(h, s, c, n)
WHERE EXISTS (SELECT 1 FROM contacts x WHERE x.callee_hash = k.h
              AND x.started_at = to_timestamp(k.s) AND x.caller = k.c)
"""
# A day's counts of one debtor and its agreements in one statement: one round trip, one
# snapshot. What workers hold in memory (registry/ledger/memory.py) spares the recent days.
_STANDING = """
SELECT 0 AS part, p AS who,
       count(*) FILTER (WHERE c.channel = 'voice' AND c.duration_s > 0)::int AS a,
       count(*) FILTER (WHERE c.channel = 'voice' AND c.duration_s >= 6)::int AS b,
       count(*) FILTER (WHERE c.channel = 'sms')::int AS c,
       NULL::text AS start, NULL::text AS "end", NULL::timestamptz AS made
FROM contacts c CROSS JOIN LATERAL unnest(c.principals) AS p
WHERE c.callee_hash = ANY($1::bytea[]) AND c.started_at >= to_timestamp($2)
  AND c.started_at < to_timestamp($2 + 86400) AND p = ANY($3::text[])
GROUP BY p
UNION ALL
SELECT 1, lender_id, daily_limit, NULL, NULL, hours_start, hours_end, created_at
FROM contact_agreements
WHERE callee_hash = ANY($1::bytea[]) AND lender_id = ANY($3::text[]) AND valid_to > $4
ORDER BY part, made
"""
_AGREEMENT = """
SELECT id, origin, lender_id, callee_hash, hash_version, daily_limit, hours_start, hours_end,
       valid_to, created_at FROM contact_agreements
"""


class Report(msgspec.Struct, frozen=True):
    """What became of each reported call: counted (over limit? out of hours?) or, None, a
    repeat; and the id of the report logged (None when no call was new)."""

    counted: list[counting.Counted | None]
    report_id: str | None


def distinct(calls: Sequence[LoggedCall]) -> tuple[list[LoggedCall], list[int]]:
    """The first report of each call in a batch, and for each item its call's position."""
    first: dict[tuple[str, int, str], int] = {}
    kept: list[LoggedCall] = []
    where: list[int] = []
    for call in calls:
        key = (call.callee_hash, call.started_at, call.caller)
        at = first.get(key)
        if at is None:
            at = first[key] = len(kept)
            kept.append(call)
        where.append(at)
    return kept, where


# Brought current under the append lock (on the connection holding it), what a worker's
# memory says of the debtor-days it holds (registry/ledger/memory.py).
RecentCalls = Callable[[Connection], Awaitable[counting.HoldsNone]]


async def take_report(
    conn: Connection, actor: Actor, calls: Sequence[LoggedCall],
    older_hashes: Sequence[Sequence[bytes]] = (), recent: RecentCalls | None = None,
) -> Report:
    """Hold and count a member's batch, all or nothing; per item its counting, None when
    the ledger already held the call (reported before, by anyone, or earlier in the batch).

    `older_hashes[v][i]` is call i's debtor hashed under an older kept key version: a
    call held under one of those is the same call, reported again after a rotation.
    `recent` spares PostgreSQL the debtor-days a worker's memory knows hold no call.
    """
    kept, where = distinct(calls)
    first: dict[int, int] = {}
    for item, at in enumerate(where):
        first.setdefault(at, item)
    async with conn.transaction():
        # Counts must see every call committed before them: one report at a time.
        await changelog.hold_append_lock(conn)
        candidates = list(range(len(kept)))
        for hashes in older_hashes:
            repeats = await conn.fetch(
                _HELD_UNDER_OLDER_KEYS, [hashes[first[i]] for i in candidates],
                [kept[i].started_at for i in candidates], [kept[i].caller for i in candidates])
            gone = {candidates[r[0] - 1] for r in repeats}
            candidates = [i for i in candidates if i not in gone]
        origin = await changelog.node_id(conn)
        subset = [kept[i] for i in candidates]
        new, before = await _hold(conn, origin, actor.id, subset, recent)
        inserted = [candidates[i] for i in new]
        new_calls = [kept[i] for i in inserted]
        counted = await counting.count(conn, new_calls, before)
        report_id = new_id("cr")
        if new_calls:
            await conn.execute(
                "INSERT INTO contact_reports (id, origin, reporter_id) VALUES ($1, $2, $3)",
                report_id, origin, actor.id)
            await changelog.append_one(conn, REPORT, report_id,
                                       ContactReport.of(actor.id, new_calls))
            await record_evidence(conn, actor, REPORT, report_id)
    by_position: dict[int, counting.Counted] = dict(zip(inserted, counted, strict=True))
    answers: list[counting.Counted | None] = []
    answered: set[int] = set()
    for at in where:
        made = by_position.get(at) if at not in answered else None
        answered.add(at)
        answers.append(made)
    return Report(answers, report_id if new_calls else None)


async def _hold(conn: Connection, origin: str, reporter_id: str, calls: Sequence[LoggedCall],
                recent: RecentCalls | None) -> tuple[list[int], dict[counting.Group, int]]:
    """counting.hold(), sparing PostgreSQL what the worker's memory rules out; should the
    memory ever miss a call (rows written around the change log), the batch is held again
    asking PostgreSQL about every debtor-day, rather than failed."""
    if recent is None:
        return await counting.hold(conn, origin, reporter_id, calls)
    holds_none = await recent(conn)
    try:
        async with conn.transaction():  # a savepoint: only this attempt is undone
            return await counting.hold(conn, origin, reporter_id, calls, holds_none)
    except asyncpg.UniqueViolationError:
        log.warning("ledger_memory_missed_a_call")
        return await counting.hold(conn, origin, reporter_id, calls)


async def apply_remote_reports(
    conn: Connection, origin: str, changes: Sequence[tuple[str, ContactReport | None]],
) -> None:
    """A peer's reports: its calls held here under its origin (a call held already, from
    any origin, is left as it is and not counted again), then counted. Reports are never
    deleted by their node (retention runs on every node by itself): a tombstone is moot."""
    for report_id, report in changes:
        if report is None:
            continue
        await changelog.hold_append_lock(conn)
        kept, _ = distinct(report.calls())
        inserted, before = await counting.hold(conn, origin, report.reporter_id, kept)
        await counting.count(conn, [kept[i] for i in inserted], before)
        # What the workers' in-memory counts add: the positions of the new calls.
        await conn.execute(
            "INSERT INTO contact_reports (id, origin, reporter_id, positions)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            report_id, origin, report.reporter_id, inserted)


async def apply_remote_report(
    conn: Connection, origin: str, report_id: str, report: ContactReport,
) -> None:
    await apply_remote_reports(conn, origin, [(report_id, report)])


# ---- the allowance's counts ------------------------------------------------------------

class DayCounts(msgspec.Struct, frozen=True):
    connected: int = 0
    effective: int = 0
    sms: int = 0


async def standing(
    conn: Connection, hashes: Sequence[bytes], principals: Sequence[str], at: int,
) -> tuple[dict[str, DayCounts], dict[str, rules.Terms]]:
    """For one debtor (under every key version) and set of principals: each one's counts
    on the Shanghai day of `at`, and its agreed terms at `at` (the latest still valid)."""
    if not principals:
        return {}, {}
    rows = await conn.fetch(_STANDING, list(hashes), counting.day_start(at),
                            list(principals), datetime.fromtimestamp(at, UTC))
    counts: dict[str, DayCounts] = {}
    terms: dict[str, rules.Terms] = {}
    for part, who, a, b, c, start, end, _ in rows:
        if part == 0:
            counts[who] = DayCounts(a, b, c)
        else:  # oldest first: the latest agreement wins
            terms[who] = rules.terms_of(a, start, end)
    return counts, terms


# ---- agreements ------------------------------------------------------------------------

def _agreement(row: Any) -> Agreement:
    hours = Hours(row["hours_start"], row["hours_end"]) if row["hours_start"] else None
    return Agreement(id=row["id"], origin=row["origin"], lender_id=row["lender_id"],
                     daily_limit=row["daily_limit"], hours=hours, valid_to=row["valid_to"],
                     created_at=row["created_at"])


def _record(row: Any) -> AgreementRecord:
    hours = Hours(row["hours_start"], row["hours_end"]) if row["hours_start"] else None
    return AgreementRecord(
        lender_id=row["lender_id"], callee_hash=row["callee_hash"].hex(),
        hash_version=row["hash_version"], daily_limit=row["daily_limit"], hours=hours,
        valid_to=row["valid_to"].isoformat(), created_at=row["created_at"].isoformat())


async def create_agreement(
    conn: Connection, actor: Actor, data: AgreementCreate, callee_hash: bytes, version: int,
) -> Agreement:
    """A lender's agreement with a debtor; an agency cannot make its lender's."""
    if actor.member_kind not in ("lender", "debt_buyer"):
        raise Forbidden("only a lender or debt buyer makes an agreement with its debtor")
    if data.valid_to.tzinfo is None:
        raise Invalid.field("valid_to", "a time needs its UTC offset")
    if data.daily_limit is None and data.hours is None:
        raise Invalid.field("daily_limit", "an agreement changes the limit, the hours or both")
    agreement_id = new_id("ca")
    async with conn.transaction():
        now: datetime = await conn.fetchval("SELECT now()")
        if data.valid_to <= now:
            raise Invalid.field("valid_to", "already past")
        hours = data.hours
        row = await conn.fetchrow(
            "INSERT INTO contact_agreements (id, origin, lender_id, callee_hash, hash_version,"
            " daily_limit, hours_start, hours_end, valid_to, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
            agreement_id, await changelog.node_id(conn), actor.id, callee_hash, version,
            data.daily_limit, hours.start if hours else None, hours.end if hours else None,
            data.valid_to, now)
        await changelog.append_one(conn, AGREEMENT, agreement_id, _record(row))
        await record_evidence(conn, actor, AGREEMENT, agreement_id)
    return _agreement(row)


async def delete_agreement(conn: Connection, actor: Actor, agreement_id: str) -> None:
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT a.origin, n.node_id FROM contact_agreements a, node_identity n"
            " WHERE a.id = $1 AND (a.lender_id = $2 OR $3::boolean) FOR UPDATE OF a",
            agreement_id, actor.id, actor.is_operator)
        if row is None:
            raise NotFound(f"no agreement {agreement_id}")
        refuse_foreign(row["origin"], row["node_id"], f"agreement {agreement_id}")
        await conn.execute("DELETE FROM contact_agreements WHERE id = $1", agreement_id)
        await changelog.append_one(conn, AGREEMENT, agreement_id, None)
        await record_evidence(conn, actor, AGREEMENT, agreement_id)


async def get_agreement(conn: Connection, actor: Actor, agreement_id: str) -> Agreement:
    row = await conn.fetchrow(_AGREEMENT + " WHERE id = $1 AND (lender_id = $2 OR $3)",
                              agreement_id, actor.id, actor.is_operator)
    if row is None:
        raise NotFound(f"no agreement {agreement_id}")
    return _agreement(row)


async def apply_remote_agreement(
    conn: Connection, origin: str, agreement_id: str, a: AgreementRecord,
) -> None:
    """Hold a peer's agreement as its home node logged it (never over another origin's)."""
    await conn.execute(
        "INSERT INTO contact_agreements (id, origin, lender_id, callee_hash, hash_version,"
        " daily_limit, hours_start, hours_end, valid_to, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (id) DO UPDATE SET daily_limit = $6, hours_start = $7, hours_end = $8,"
        " valid_to = $9 WHERE contact_agreements.origin = $2",
        agreement_id, origin, a.lender_id, bytes.fromhex(a.callee_hash), a.hash_version,
        a.daily_limit, a.hours.start if a.hours else None, a.hours.end if a.hours else None,
        datetime.fromisoformat(a.valid_to), datetime.fromisoformat(a.created_at))


# ---- retention ---------------------------------------------------------------------------

class Expired(msgspec.Struct, frozen=True):
    calls: int
    reports: int
    agreements: int
    log_entries: int


async def expire(conn: Connection, retention_days: int, now: datetime | None = None) -> Expired:
    """Forget calls, counters and ended agreements older than the retention, and strip the
    calls from old reports in the change log (their data hash stays: the chain verifies and
    the entry travels on redacted, as any entry a reader may not see)."""
    now = now or await conn.fetchval("SELECT now()")
    assert now is not None
    cutoff = now - timedelta(days=retention_days)
    async with conn.transaction():
        # Every worker runs the job; one at a time is enough.
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RETENTION_LOCK):
            return Expired(0, 0, 0, 0)
        calls = await conn.execute("DELETE FROM contacts WHERE started_at < $1", cutoff)
        counted = await conn.execute(
            "DELETE FROM contact_reports WHERE recorded_at < $1", cutoff)
        agreements = await conn.execute(
            "DELETE FROM contact_agreements WHERE valid_to < $1", cutoff)
        logged = await conn.execute(
            "UPDATE change_log SET data = NULL WHERE type = $1 AND data IS NOT NULL"
            " AND recorded_at < $2", REPORT, cutoff)
    return Expired(*(int(status.split()[-1]) for status in (calls, counted, agreements,
                                                             logged)))
