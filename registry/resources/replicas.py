"""Holding a peer's resource records: supplies in bulk, confirmations and filings.

A page of a peer's log holds thousands of supplies (a carrier's million numbers); applying
them one statement each would make replication as slow as the round trips. A batch keeps
the log's order by letting the last change of an id win, which is exact because every
change carries the whole record. Every statement writes only rows of the sending origin;
registry/replicas.py has already refused a change naming a record of another origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from registry.db import Connection
from registry.resources.model import ConfirmationRecord, FilingRecord, ResourceRecord

_UPSERT_RESOURCES = """
INSERT INTO resources (id, origin, kind, value, supplier_id, assignee_id, valid_from,
                       valid_to, created_at)
SELECT t.id, $1, t.kind, t.value, t.supplier_id, t.assignee_id, t.valid_from, t.valid_to,
       coalesce(t.created_at, now())
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[], $8::timestamptz[], $9::timestamptz[])
     AS t(id, kind, value, supplier_id, assignee_id, valid_from, valid_to, created_at)
ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, value = EXCLUDED.value,
    supplier_id = EXCLUDED.supplier_id, assignee_id = EXCLUDED.assignee_id,
    valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to, updated_at = now()
WHERE resources.origin = $1
"""
_COPIED = ["id", "origin", "kind", "value", "supplier_id", "assignee_id", "valid_from",
           "valid_to", "created_at"]


def _last_of_each(
    changes: Sequence[tuple[str, ResourceRecord | None]],
) -> tuple[list[tuple[str, ResourceRecord]], list[str]]:
    latest: dict[str, ResourceRecord | None] = {}
    for record_id, record in changes:
        latest.pop(record_id, None)  # keep the dict in the order of each id's last change
        latest[record_id] = record
    upserts = [(i, r) for i, r in latest.items() if r is not None]
    deletes = [i for i, r in latest.items() if r is None]
    return upserts, deletes


async def apply_remote_resources(
    conn: Connection, origin: str, changes: Sequence[tuple[str, ResourceRecord | None]]
) -> None:
    upserts, deletes = _last_of_each(changes)
    if deletes:
        await conn.execute("DELETE FROM resources WHERE id = ANY($1::text[]) AND origin = $2",
                           deletes, origin)
    if not upserts:
        return
    held = {r["id"] for r in await conn.fetch(
        "SELECT id FROM resources WHERE id = ANY($1::text[]) AND origin = $2",
        [i for i, _ in upserts], origin)}
    # Resources not held yet (the bulk of a first replication) go in by COPY.
    fresh = [(i, r) for i, r in upserts if i not in held]
    if fresh:
        now = datetime.now(UTC)
        await conn.copy_records_to_table("resources", columns=_COPIED, records=[
            (i, origin, r.kind, r.value, r.supplier_id, r.assignee_id, r.valid_from,
             r.valid_to, r.created_at or now) for i, r in fresh])
    changed = [r for i, r in upserts if i in held]
    if changed:
        await conn.execute(
            _UPSERT_RESOURCES, origin, [i for i, _ in upserts if i in held],
            [r.kind for r in changed], [r.value for r in changed],
            [r.supplier_id for r in changed], [r.assignee_id for r in changed],
            [r.valid_from for r in changed], [r.valid_to for r in changed],
            [r.created_at for r in changed])


async def apply_remote_resource(
    conn: Connection, origin: str, resource_id: str, record: ResourceRecord
) -> None:
    await apply_remote_resources(conn, origin, [(resource_id, record)])


async def apply_remote_confirmation(
    conn: Connection, origin: str, record_id: str, c: ConfirmationRecord
) -> None:
    await conn.execute(
        """INSERT INTO resource_confirmations (id, origin, resource_id, member_id, confirmed_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET confirmed_at = $5
           WHERE resource_confirmations.origin = $2""",
        record_id, origin, c.resource_id, c.member_id, c.confirmed_at,
    )


async def apply_remote_filing(
    conn: Connection, origin: str, record_id: str, f: FilingRecord
) -> None:
    await conn.execute(
        """INSERT INTO resource_filings (id, origin, resource_id, entrustment_id, lender_id,
                                         filed_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET filed_at = $6
           WHERE resource_filings.origin = $2""",
        record_id, origin, f.resource_id, f.entrustment_id, f.lender_id, f.filed_at,
    )
