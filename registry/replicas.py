"""Applying a peer's change to the local tables: one applier per record type.

Each domain module that logs a record type provides `apply_remote(conn, origin, id, data)`
(data None is a tombstone) and is listed here; the feed consumer calls `apply` for every
verified change it receives. Records applied this way keep their `origin`, which makes
them read-only here. A type with many records (resources) may also list a batch applier
in BATCH_APPLIERS, which takes a page's changes of that type at once, in log order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from registry.blackmarket import store as blackmarket
from registry.collectors import store as collectors
from registry.db import Connection
from registry.entrustments import store as entrustments
from registry.members import store as members
from registry.risk import store as risk
from registry.trace import store as resources
from registry.trace.batch_replicas import apply_remote_resources

Applier = Callable[[Connection, str, str, dict[str, Any] | None], Awaitable[None]]
# (conn, origin, [(id, data), ...]) in log order; a later change of an id wins.
BatchApplier = Callable[
    [Connection, str, Sequence[tuple[str, dict[str, Any] | None]]], Awaitable[None]
]

APPLIERS: dict[str, Applier] = {
    members.RECORD_TYPE: members.apply_remote,
    collectors.RECORD_TYPE: collectors.apply_remote,
    blackmarket.GROUP: blackmarket.apply_remote_group,
    blackmarket.SIGHTING: blackmarket.apply_remote_sighting,
    risk.RECORD_TYPE: risk.apply_remote,
    entrustments.RECORD_TYPE: entrustments.apply_remote,
    "resource": resources.apply_remote_resource,
    "resource_confirmation": resources.apply_remote_confirmation,
    "resource_filing": resources.apply_remote_filing,
}
BATCH_APPLIERS: dict[str, BatchApplier] = {
    "resource": apply_remote_resources,
}


def holds(record_type: str) -> bool:
    return record_type in APPLIERS or record_type in BATCH_APPLIERS


async def apply(
    conn: Connection, record_type: str, origin: str, record_id: str,
    data: dict[str, Any] | None,
) -> bool:
    """Apply one change; False when this node does not hold records of that type."""
    applier = APPLIERS.get(record_type)
    if applier is None:
        return False
    await applier(conn, origin, record_id, data)
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
    applier = APPLIERS.get(record_type)
    if applier is None:
        return False
    for record_id, data in changes:
        await applier(conn, origin, record_id, data)
    return True
