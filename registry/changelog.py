"""The node's append-only, hash-chained change log (DESIGN.md "Federation", API.md §8).

Every write appends here inside the transaction that makes it, so a record and its log
entry commit together or not at all. The chain is

    data_hash = SHA-256(canonical(data))            (canonical(null) when data is absent)
    hash      = SHA-256(bytes.fromhex(prev) || canonical(entry))

where `entry` holds seq, origin, type, id, op and data_hash (not data, not prev, not
hash), so an entry can travel without its data and the chain still verifies. The first
entry's prev is 64 zeros. The byte-exact specification is docs/change-log.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from registry.canonical import canonical, check_loggable, sha256_hex
from registry.db import Connection

GENESIS = "0" * 64
CHANNEL = "change_log"
# Appends take this transaction-scoped lock so that seq and prev are read and written
# by one writer at a time; writes are rare next to reads, so the queue stays short.
_APPEND_LOCK = 0x4348_4149  # "CHAI"
OPS = frozenset({"upsert", "delete"})


class Change(msgspec.Struct, frozen=True):
    """A change as it is recorded, before it is given its place in the chain."""

    type: str
    id: str
    op: str  # "upsert" or "delete" (a tombstone: data is None)
    data: dict[str, Any] | None


class Entry(msgspec.Struct, frozen=True):
    seq: int
    origin: str
    type: str
    id: str
    op: str
    data: dict[str, Any] | None
    data_hash: str
    prev: str
    hash: str


class _HashedFields(msgspec.Struct, frozen=True):
    """The members of an entry that its hash covers, declared in canonical (sorted) order:
    msgspec writes a Struct's fields in declaration order, so its JSON is canonical(...)
    of the same dict, made without building and sorting one."""

    data_hash: str
    id: str
    op: str
    origin: str
    seq: int
    type: str


_fields_encoder = msgspec.json.Encoder()


def data_hash(data: dict[str, Any] | None) -> str:
    return sha256_hex(canonical(data))


def entry_hash(
    *, prev: str, seq: int, origin: str, type: str, id: str, op: str, data_hash: str
) -> str:
    body = _fields_encoder.encode(_HashedFields(data_hash, id, op, origin, seq, type))
    return sha256_hex(bytes.fromhex(prev) + body)


def chain(origin: str, after_seq: int, after_hash: str, changes: Sequence[Change]) -> list[Entry]:
    """Give each change its seq, prev and hash, continuing the chain after (seq, hash)."""
    entries = []
    prev, seq = after_hash, after_seq
    for change in changes:
        seq += 1
        if change.op not in OPS or (change.op == "delete") != (change.data is None):
            raise ValueError(f"{change.type} {change.id}: op {change.op!r} does not fit its data")
        check_loggable(change.data)
        digest = data_hash(change.data)
        link = entry_hash(
            prev=prev, seq=seq, origin=origin, type=change.type, id=change.id,
            op=change.op, data_hash=digest,
        )
        entries.append(Entry(seq, origin, change.type, change.id, change.op, change.data,
                             digest, prev, link))
        prev = link
    return entries


async def node_id(conn: Connection) -> str:
    value = await conn.fetchval("SELECT node_id FROM node_identity")
    if value is None:
        raise RuntimeError("node identity is not initialised")
    return str(value)


async def append(conn: Connection, changes: Sequence[Change]) -> list[Entry]:
    """Append this node's own changes; call inside the transaction that makes them."""
    if not conn.is_in_transaction():
        raise RuntimeError("change-log appends must share the write's transaction")
    if not changes:
        return []
    await hold_append_lock(conn)
    origin = await node_id(conn)
    head = await conn.fetchrow(
        "SELECT seq, hash FROM change_log WHERE origin = $1 ORDER BY seq DESC LIMIT 1", origin
    )
    after_seq, after_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    entries = chain(origin, after_seq, after_hash, changes)
    await store(conn, entries)
    await notify(conn, origin, entries[-1].seq)
    return entries


async def hold_append_lock(conn: Connection) -> None:
    """Hold the append lock until the transaction ends. Whatever else numbers its rows in
    commit order (the event outbox) takes it too, so it cannot deadlock with an append, and
    so does a write that must see every other write of the node committed before it decides
    (a count of calls)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _APPEND_LOCK)


async def notify(conn: Connection, origin: str, seq: int) -> None:
    """Tell every listener (trace indexes, feed waiters) at commit that `origin` reached `seq`."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{origin} {seq}")


_COLUMNS = ["origin", "seq", "type", "record_id", "op", "data", "data_hash", "prev", "hash"]
# From this many entries on (a batch of supplies, say) one COPY writes them all.
_COPY_FROM = 64


async def store(conn: Connection, entries: Sequence[Entry]) -> None:
    """Write already-chained entries (this node's, or a peer's after verification)."""
    rows = [(e.origin, e.seq, e.type, e.id, e.op,
             None if e.data is None else canonical(e.data).decode(), e.data_hash, e.prev,
             e.hash) for e in entries]
    if len(rows) >= _COPY_FROM:
        await conn.copy_records_to_table("change_log", columns=_COLUMNS, records=rows)
        return
    await conn.executemany(
        "INSERT INTO change_log (origin, seq, type, record_id, op, data, data_hash, prev, hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", rows)


def record(type: str, id: str, payload: msgspec.Struct) -> Change:
    """The change that logs `payload` (the record type's declared Struct) as the record's
    state; the payload is the federation contract, never a dict built by hand."""
    return Change(type, id, "upsert", msgspec.to_builtins(payload))


async def append_one(
    conn: Connection, type: str, id: str, payload: msgspec.Struct | None
) -> Entry:
    """Log one record's new state, or its tombstone when `payload` is None."""
    change = Change(type, id, "delete", None) if payload is None else record(type, id, payload)
    return (await append(conn, [change]))[0]
