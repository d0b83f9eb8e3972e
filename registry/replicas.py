"""Applying a peer's change to the local tables: the replica rule, the same for every type.

The feed consumer hands over each verified run of one origin's changes of one type
(`apply_many`), redacted ones included. Before anything is written the run is checked
against API.md §8, "a consumer never accepts from one origin a change that names
another": a change whose record id is held here from another origin (a local record, or
a third node's), or whose author is a member at home on another node, refuses the whole
page (RefusedChange; the puller records it as the peer's fault). Then each upsert goes to
its type's declared applier with its decoded payload, and each tombstone removes the
record with its dependent rows. Records held this way keep their `origin`, which makes
them read-only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registry.db import Connection
from registry.record_types import BY_NAME
from registry.records import RecordType, RefusedChange

# (record id, canonical JSON data or None, redacted) in log order.
Run = Sequence[tuple[str, bytes | None, bool]]


def holds(record_type: str) -> bool:
    return record_type in BY_NAME


async def _refuse_foreign(
    conn: Connection, rt: RecordType[Any], origin: str, run: Run
) -> None:
    # Table and column names come from the declared table, never from a change.
    ids = [record_id for record_id, _, _ in run]
    row = await conn.fetchrow(
        f"SELECT id, origin FROM {rt.table} WHERE id = ANY($1::text[]) AND origin <> $2"  # noqa: S608
        " LIMIT 1", ids, origin)
    if row is not None:
        raise RefusedChange(f"{origin} sent a change of {rt.name} {row['id']}, a record of"
                            f" {row['origin']}")


async def _refuse_forged_authors(
    conn: Connection, rt: RecordType[Any], origin: str, payloads: Sequence[object]
) -> None:
    if rt.author is None:
        return
    authors = list({getattr(p, rt.author) for p in payloads} - {None, ""})
    row = await conn.fetchrow(
        "SELECT id, origin FROM members WHERE id = ANY($1::text[]) AND origin <> $2 LIMIT 1",
        authors, origin)
    if row is not None:
        raise RefusedChange(f"{origin} sent a {rt.name} by member {row['id']}, who is at home"
                            f" on {row['origin']}")


async def _forget(conn: Connection, rt: RecordType[Any], origin: str, record_id: str
                  ) -> None:
    held = await conn.fetchval(
        f"SELECT 1 FROM {rt.table} WHERE id = $1 AND origin = $2",  # noqa: S608
        record_id, origin)
    if held is None:
        return
    for table, column in rt.dependents:
        await conn.execute(f"DELETE FROM {table} WHERE {column} = $1", record_id)  # noqa: S608
    await conn.execute(f"DELETE FROM {rt.table} WHERE id = $1 AND origin = $2",  # noqa: S608
                       record_id, origin)


async def apply_many(conn: Connection, record_type: str, origin: str, run: Run) -> bool:
    """Apply a run of one type's changes, in order; False when the type is not held here.

    Redacted changes are checked like the others (a redacted change naming a local record
    is as much a forgery) but apply nothing: this node was not given the record.
    """
    rt = BY_NAME.get(record_type)
    if rt is None:
        return False
    await _refuse_foreign(conn, rt, origin, run)
    changes = [(record_id, None if data is None else rt.decode(data))
               for record_id, data, redacted in run if not redacted]
    await _refuse_forged_authors(conn, rt, origin, [p for _, p in changes if p is not None])
    if rt.apply_batch is not None:
        await rt.apply_batch(conn, origin, changes)
        return True
    for record_id, payload in changes:
        if payload is None:
            await _forget(conn, rt, origin, record_id)
        else:
            await rt.apply(conn, origin, record_id, payload)
    return True


async def apply(
    conn: Connection, record_type: str, origin: str, record_id: str, data: bytes | None,
) -> bool:
    """Apply one change (its canonical JSON data, or None for a tombstone)."""
    return await apply_many(conn, record_type, origin, [(record_id, data, False)])
