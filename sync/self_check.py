"""`registry verify`: after an incident, check the change log a node holds, from its database.

Every chain (the node's own, and each peer's it replicates) is read from seq 1 and run
through the consumer's own checks (sync/verify.py, steps 1 to 5): each data re-hashes to
its data_hash, each entry links to the one before and re-hashes to its hash, no seq is
missing. The node's own upserts must carry their data (only a peer's may be redacted).
Each stored peer checkpoint must verify under that peer's pinned keys and agree with the
chain held for its origin. Any break is reported, never repaired.
"""

from __future__ import annotations

from typing import Any

import msgspec

from registry.changelog import GENESIS
from registry.db import Connection
from sync import checkpoint
from sync.errors import SyncFault
from sync.peers import get_peer
from sync.verify import verify_chain
from sync.wire import NULL, Checkpoint, WireChange

PAGE = 5000

_ORIGINS = "SELECT DISTINCT origin FROM change_log ORDER BY origin"
_ENTRIES = """
SELECT seq, type, record_id, op, data, data_hash, prev, hash FROM change_log
WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3
"""
# as text: the same bytes whatever codecs the connection has
_CHECKPOINTS = """
SELECT peer, checkpoint::text AS checkpoint FROM sync_state WHERE checkpoint IS NOT NULL
ORDER BY peer
"""
_HASH_AT = "SELECT hash FROM change_log WHERE origin = $1 AND seq = $2"


class Break(msgspec.Struct, frozen=True):
    origin: str
    seq: int | None
    reason: str


class Chain(msgspec.Struct):
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    redacted: int = 0


class Report(msgspec.Struct):
    node: str
    ok: bool
    chains: dict[str, Chain]
    checkpoints_verified: int
    breaks: list[Break]


def _wire(origin: str, own: bool, row: Any) -> WireChange:
    data = row["data"]
    if own and data is None and row["op"] == "upsert":
        raise SyncFault("the node's own upsert has no data", row["seq"])
    return WireChange(
        seq=row["seq"], origin=origin, type=row["type"], id=row["record_id"], op=row["op"],
        data_hash=row["data_hash"], prev=row["prev"], hash=row["hash"],
        data=NULL if data is None else msgspec.Raw(data.encode()),
        # a peer's upsert kept without its data reached us redacted: only its link is proven
        redacted=data is None and row["op"] == "upsert",
    )


async def _check_chain(conn: Connection, origin: str, own: bool) -> tuple[Chain, Break | None]:
    chain = Chain()
    while True:
        rows = await conn.fetch(_ENTRIES, origin, chain.head_seq, PAGE)
        try:
            changes = [_wire(origin, own, row) for row in rows]
            proven, seq, link = verify_chain(changes, origin=origin, after_seq=chain.head_seq,
                                             after_hash=chain.head_hash, held={})
        except SyncFault as fault:
            return chain, Break(origin, fault.seq, fault.reason)
        chain.entries += len(proven)
        chain.redacted += sum(1 for change in proven if change.redacted)
        chain.head_seq, chain.head_hash = seq, link
        if len(rows) < PAGE:
            return chain, None


async def _check_checkpoints(
    conn: Connection, chains: dict[str, Chain],
) -> tuple[int, list[Break]]:
    verified, breaks = 0, []
    for row in await conn.fetch(_CHECKPOINTS):
        peer = row["peer"]
        try:
            stored = msgspec.json.decode(row["checkpoint"], type=Checkpoint)
            origin = stored.origin or stored.node
            checkpoint.verify(stored, peer, (await get_peer(conn, peer)).keys)
            held = chains.get(origin, Chain())
            if stored.seq <= held.head_seq:
                at = await conn.fetchval(_HASH_AT, origin, stored.seq)
                if at != stored.hash:
                    raise SyncFault("the stored checkpoint differs from the chain held",
                                    stored.seq)
        except (SyncFault, msgspec.ValidationError) as fault:
            seq = fault.seq if isinstance(fault, SyncFault) else None
            reason = fault.reason if isinstance(fault, SyncFault) else f"malformed: {fault}"
            breaks.append(Break(f"checkpoint of {peer}", seq, reason))
            continue
        verified += 1
    return verified, breaks


async def verify_node(conn: Connection, node_id: str) -> Report:
    """Check every chain and stored checkpoint; the report lists each break found."""
    chains: dict[str, Chain] = {}
    breaks: list[Break] = []
    for row in await conn.fetch(_ORIGINS):
        origin = row["origin"]
        chains[origin], found = await _check_chain(conn, origin, own=origin == node_id)
        if found is not None:
            breaks.append(found)
    verified, checkpoint_breaks = await _check_checkpoints(conn, chains)
    breaks.extend(checkpoint_breaks)
    return Report(node_id, not breaks, chains, verified, breaks)
