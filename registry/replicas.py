"""Applying a peer's change to the local tables: one replica rule per record type.

Each domain module that logs a record type provides an upsert `(conn, origin, id, data)`
and is listed here with its table; tombstones (data None) are applied here, the same way
for every type. The feed consumer calls `apply` or `apply_many` for every verified change.
Records applied this way keep their `origin`, which makes them read-only here. A type with
many records (resources) may also list a batch applier in BATCH_APPLIERS, which takes a
page's changes of that type at once, in log order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from registry.blackmarket import store as blackmarket
from registry.collectors import store as collectors
from registry.complaints import store as complaints
from registry.db import Connection
from registry.entrustments import store as entrustments
from registry.members import store as members
from registry.risk import store as risk
from registry.trace import store as resources
from registry.trace.batch_replicas import apply_remote_resources

Upsert = Callable[[Connection, str, str, dict[str, Any]], Awaitable[None]]
# (conn, origin, [(id, data), ...]) in log order; a later change of an id wins.
BatchApplier = Callable[
    [Connection, str, Sequence[tuple[str, dict[str, Any] | None]]], Awaitable[None]
]


class Replica(NamedTuple):
    table: str
    upsert: Upsert
    # Rows that hang on the record by (table, column) and go with it.
    dependents: tuple[tuple[str, str], ...] = ()


APPLIERS: dict[str, Replica] = {
    members.RECORD_TYPE: Replica(
        "members", members.apply_remote, (("member_status_history", "member_id"),)),
    collectors.RECORD_TYPE: Replica("collector_filings", collectors.apply_remote),
    blackmarket.GROUP: Replica("blackmarket_groups", blackmarket.apply_remote_group),
    blackmarket.SIGHTING: Replica("blackmarket_sightings", blackmarket.apply_remote_sighting),
    risk.RECORD_TYPE: Replica("risk_events", risk.apply_remote),
    entrustments.RECORD_TYPE: Replica("entrustments", entrustments.apply_remote),
    "resource": Replica("resources", resources.apply_remote_resource),
    "resource_confirmation": Replica(
        "resource_confirmations", resources.apply_remote_confirmation),
    "resource_filing": Replica("resource_filings", resources.apply_remote_filing),
    complaints.RECORD_TYPE: Replica("complaints", complaints.apply_remote),
    complaints.RESPONSE_TYPE: Replica(
        "complaint_responses", complaints.apply_remote_response),
}
BATCH_APPLIERS: dict[str, BatchApplier] = {
    "resource": apply_remote_resources,
}


def holds(record_type: str) -> bool:
    return record_type in APPLIERS or record_type in BATCH_APPLIERS


async def _forget(conn: Connection, replica: Replica, origin: str, record_id: str) -> None:
    # Table and column names come from the constant map above, never from a change.
    held = await conn.fetchval(
        f"SELECT 1 FROM {replica.table} WHERE id = $1 AND origin = $2",  # noqa: S608
        record_id, origin,
    )
    if held is None:
        return
    for table, column in replica.dependents:
        await conn.execute(f"DELETE FROM {table} WHERE {column} = $1", record_id)  # noqa: S608
    await conn.execute(
        f"DELETE FROM {replica.table} WHERE id = $1 AND origin = $2",  # noqa: S608
        record_id, origin,
    )


async def apply(
    conn: Connection, record_type: str, origin: str, record_id: str,
    data: dict[str, Any] | None,
) -> bool:
    """Apply one change; False when this node does not hold records of that type."""
    replica = APPLIERS.get(record_type)
    if replica is None:
        return False
    if data is None:
        await _forget(conn, replica, origin, record_id)
    else:
        await replica.upsert(conn, origin, record_id, data)
    return True


async def apply_many(
    conn: Connection, record_type: str, origin: str,
    changes: Sequence[tuple[str, dict[str, Any] | None]],
) -> bool:
    """Apply a run of changes of one type, in order; False when the type is not held here."""
    batch = BATCH_APPLIERS.get(record_type)
    if batch is not None:
        await batch(conn, origin, changes)
        return True
    if record_type not in APPLIERS:
        return False
    for record_id, data in changes:
        await apply(conn, record_type, origin, record_id, data)
    return True
