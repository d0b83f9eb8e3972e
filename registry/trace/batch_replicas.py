"""Batch appliers for the resource records a peer sends in bulk (a carrier's million numbers).

A page of a peer's log holds thousands of supplies; applying them one statement each would
make replication as slow as the round trips. Each batch keeps the log's order by letting
the last change of an id win, which is exact because every change carries the whole record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from registry.db import Connection

_UPSERT_RESOURCES = """
INSERT INTO resources (id, origin, kind, value, supplier_id, assignee_id, valid_from,
                       valid_to, created_at)
SELECT t.id, $1, t.kind, t.value, t.supplier_id, t.assignee_id, t.valid_from::timestamptz,
       t.valid_to::timestamptz, coalesce(t.created_at::timestamptz, now())
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[])
     AS t(id, kind, value, supplier_id, assignee_id, valid_from, valid_to, created_at)
ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, value = EXCLUDED.value,
    supplier_id = EXCLUDED.supplier_id, assignee_id = EXCLUDED.assignee_id,
    valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to, updated_at = now()
WHERE resources.origin = $1
"""


def _last_of_each(
    changes: Sequence[tuple[str, dict[str, Any] | None]],
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    latest: dict[str, dict[str, Any] | None] = {}
    for record_id, data in changes:
        latest.pop(record_id, None)  # keep the dict in the order of each id's last change
        latest[record_id] = data
    upserts = [(i, d) for i, d in latest.items() if d is not None]
    deletes = [i for i, d in latest.items() if d is None]
    return upserts, deletes


_COPIED = ["id", "origin", "kind", "value", "supplier_id", "assignee_id", "valid_from",
           "valid_to", "created_at"]


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def apply_remote_resources(
    conn: Connection, origin: str, changes: Sequence[tuple[str, dict[str, Any] | None]]
) -> None:
    upserts, deletes = _last_of_each(changes)
    if deletes:
        await conn.execute("DELETE FROM resources WHERE id = ANY($1::text[]) AND origin = $2",
                           deletes, origin)
    if not upserts:
        return
    held = {r["id"] for r in await conn.fetch(
        "SELECT id FROM resources WHERE id = ANY($1::text[])", [i for i, _ in upserts])}
    # Resources not held yet (the bulk of a first replication) go in by COPY.
    fresh = [(i, d) for i, d in upserts if i not in held]
    if fresh:
        now = datetime.now(UTC)
        await conn.copy_records_to_table("resources", columns=_COPIED, records=[
            (i, origin, d["kind"], d["value"], d["supplier_id"], d["assignee_id"],
             _moment(d["valid_from"]), _moment(d.get("valid_to")),
             _moment(d.get("created_at")) or now) for i, d in fresh])
    changed = [(i, d) for i, d in upserts if i in held]
    if changed:
        columns = ("kind", "value", "supplier_id", "assignee_id", "valid_from", "valid_to",
                   "created_at")
        await conn.execute(_UPSERT_RESOURCES, origin, [i for i, _ in changed],
                           *[[d.get(c) for _, d in changed] for c in columns])
