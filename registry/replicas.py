"""Applying a peer's change to the local tables: one applier per record type.

Each domain module that logs a record type provides `apply_remote(conn, origin, id, data)`
(data None is a tombstone) and is listed here; the feed consumer calls `apply` for every
verified change it receives. Records applied this way keep their `origin`, which makes
them read-only here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from registry.blackmarket import store as blackmarket
from registry.collectors import store as collectors
from registry.db import Connection
from registry.entrustments import store as entrustments
from registry.members import store as members
from registry.risk import store as risk
from registry.trace import store as resources

Applier = Callable[[Connection, str, str, dict[str, Any] | None], Awaitable[None]]

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
