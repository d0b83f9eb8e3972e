"""Collector checks: does a published filing name this id number? Rate limited and audited.

Id numbers are a small space that could be enumerated through this endpoint, so every
check counts against a per-member budget and leaves an audit row (who, when, the keyed
hash, the answer) that operators read.
"""

from __future__ import annotations

from registry import ratelimit
from registry.actors import Actor
from registry.collectors import prc_id
from registry.collectors.model import (
    CheckAuditEntry,
    CheckAuditPage,
    CheckResult,
    CollectorCheck,
    ListedFiling,
)
from registry.collectors.subject_hash import SubjectKeys
from registry.db import Connection
from registry.errors import Invalid, RateLimited
from registry.paging import decode_cursor, encode_cursor

WINDOW_SECONDS = 60

# Published, not revoked (status), not expired; under any kept key version.
_LISTED = """
SELECT id, violations, published_at, filer_kind FROM collector_filings
WHERE status = 'published' AND expires_at > now() AND id_type = $1
  AND subject_hash = ANY($2::text[])
ORDER BY published_at, id
"""


def bucket(actor: Actor) -> str:
    return f"collector-check:{actor.id}"


async def _audit(
    conn: Connection, actor: Actor, keys: SubjectKeys, subject_hash: str, result: str,
    filing_ids: list[str],
) -> None:
    await conn.execute(
        "INSERT INTO collector_check_audit"
        " (checker_id, checker_role, subject_hash, hash_version, result, filing_ids)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        actor.id, actor.role, subject_hash, keys.current, result, filing_ids,
    )


async def check(
    conn: Connection, keys: SubjectKeys, data: CollectorCheck, actor: Actor, per_minute: int
) -> CheckResult:
    number = prc_id.normalise(data.id_number)
    hashes = keys.digests(data.id_type, number)
    try:
        await ratelimit.hit(conn, bucket(actor), per_minute, WINDOW_SECONDS)
    except RateLimited:
        await _audit(conn, actor, keys, hashes[0], "rate_limited", [])
        raise
    rows = await conn.fetch(_LISTED, data.id_type, hashes)
    filings = [
        ListedFiling(r["id"], list(r["violations"]), r["published_at"], r["filer_kind"])
        for r in rows
    ]
    ids = [f.id for f in filings]
    await _audit(conn, actor, keys, hashes[0], "listed" if filings else "not_listed", ids)
    return CheckResult(listed=bool(filings), filings=filings)


async def list_audit(
    conn: Connection, *, checker_id: str | None = None, cursor: str | None = None,
    limit: int = 100,
) -> CheckAuditPage:
    """Newest first, for operators watching for enumeration."""
    before: int | None = None
    if cursor:
        key = decode_cursor(cursor)[0]
        if not isinstance(key, int):
            raise Invalid.field("cursor", "not a cursor this registry issued")
        before = key
    rows = await conn.fetch(
        """SELECT id, checker_id, checker_role, at, subject_hash, hash_version, result,
                  filing_ids
           FROM collector_check_audit
           WHERE ($1::text IS NULL OR checker_id = $1) AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3""",
        checker_id, before, limit + 1,
    )
    items = [
        CheckAuditEntry(r["id"], r["checker_id"], r["checker_role"], r["at"], r["subject_hash"],
                        r["hash_version"], r["result"], list(r["filing_ids"]))
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return CheckAuditPage(items, next_cursor)
