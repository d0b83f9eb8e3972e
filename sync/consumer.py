"""Applying a peer's verified changes: its chain and its records in one transaction, once.

A change is applied exactly once by (origin, seq): the peer's sync_state row is locked,
changes at or below its applied seq are dropped, and the chain's primary key refuses a
second copy should anything slip past that.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import msgspec
import structlog

from registry import changelog, replicas
from registry.db import Connection
from registry.events import model as events
from registry.events.outbox import emit
from sync.errors import PullFailed
from sync.verify import Verified
from sync.wire import Checkpoint

log = structlog.get_logger("sync.consumer")

_COLUMNS = ["origin", "seq", "type", "record_id", "op", "data", "data_hash", "prev", "hash"]


class PeerState(msgspec.Struct, frozen=True):
    applied_seq: int
    applied_hash: str
    fault: str | None


async def peer_state(conn: Connection, peer: str) -> PeerState:
    row = await conn.fetchrow(
        "SELECT applied_seq, applied_hash, fault FROM sync_state WHERE peer = $1", peer)
    if row is None:
        return PeerState(0, changelog.GENESIS, None)
    return PeerState(row["applied_seq"], row["applied_hash"], row["fault"])


async def held_hashes(conn: Connection, origin: str, seqs: Sequence[int]) -> dict[int, str]:
    if not seqs:
        return {}
    rows = await conn.fetch(
        "SELECT seq, hash FROM change_log WHERE origin = $1 AND seq = ANY($2::bigint[])",
        origin, list(seqs))
    return {r["seq"]: r["hash"] for r in rows}


async def apply_verified(
    conn: Connection, peer: str, changes: Sequence[Verified], cp: Checkpoint, head: int,
) -> int:
    """Store and apply what verify_page proved; returns how many changes were new."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT applied_seq, applied_hash FROM sync_state WHERE peer = $1 FOR UPDATE", peer)
        if row is None:
            raise PullFailed(f"{peer} is not a peer of this node")
        fresh = [c for c in changes if c.seq > row["applied_seq"]]
        if fresh and (fresh[0].seq != row["applied_seq"] + 1
                      or fresh[0].prev != row["applied_hash"]):
            # Another puller moved on meanwhile; the next pull starts from where it got.
            raise PullFailed(f"{peer}: applied seq moved to {row['applied_seq']} meanwhile")
        if fresh:
            await conn.copy_records_to_table(
                "change_log", columns=_COLUMNS,
                records=[(c.origin, c.seq, c.type, c.id, c.op,
                          None if c.data is None else c.data.decode(), c.data_hash, c.prev,
                          c.hash) for c in fresh],
            )
            await _apply_records(conn, peer, fresh)
            last = fresh[-1]
            await conn.execute(
                "UPDATE sync_state SET applied_seq = $2, applied_hash = $3,"
                " last_applied_at = now() WHERE peer = $1", peer, last.seq, last.hash)
            await changelog.notify(conn, peer, last.seq)
        await conn.execute(
            "UPDATE sync_state SET peer_head_seq = $2, checkpoint = $3, last_pull_at = now(),"
            " last_error = NULL WHERE peer = $1",
            peer, max(head, cp.seq), msgspec.to_builtins(cp))
    return len(fresh)


async def _apply_records(conn: Connection, origin: str, changes: Sequence[Verified]) -> None:
    # Runs of one type go to that type's applier together, keeping the log's order; a
    # type this node has no table for is kept in the chain only. Redacted changes go too:
    # the replica rule checks what they name (registry/replicas.py).
    for record_type, run in itertools.groupby(changes, key=lambda c: c.type):
        await replicas.apply_many(conn, record_type, origin,
                                  [(c.id, c.data, c.redacted) for c in run])


async def record_fault(conn: Connection, peer: str, reason: str) -> None:
    """Stop applying from `peer`; the operators are told when a fault begins."""
    async with conn.transaction():
        before = await conn.fetchrow(
            "SELECT fault FROM sync_state WHERE peer = $1 FOR UPDATE", peer)
        await conn.execute(
            "UPDATE sync_state SET fault = $2, fault_at = now(), last_error = $2"
            " WHERE peer = $1", peer, reason)
        if before is not None and before["fault"] is None:
            await emit(conn, events.PEER_FAULTED, events.EventSubject("peer", peer),
                       events.PeerFaulted(peer=peer, fault=reason), [events.OPERATORS])


async def record_error(conn: Connection, peer: str, reason: str) -> None:
    await conn.execute(
        "UPDATE sync_state SET last_error = $2 WHERE peer = $1", peer, reason)
