"""What a trace answer rests on, proven: the records behind it, each with an inclusion proof
in its origin's tree under a checkpoint signed by that origin (sync/receipts.py signs it).

The records are the resource the answer matched, its confirmation by the user, the
filings and entrustments (with a subcontract's parent) that make each principal, and the
member records of the supplier, the user and every principal (their status is in them).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry import changelog
from registry.db import Connection
from registry.errors import RegistryError
from registry.trace.model import TraceResult
from registry_client import note, receipts
from sync import tlog
from sync.peers import get_peer
from sync.tlog_store import TileCache, extend, stored_tree

_RESTS_ON = """
WITH r AS (
    SELECT id FROM resources
    WHERE kind = $1 AND value = $2 AND supplier_id = $3 AND assignee_id = $4
    ORDER BY created_at DESC LIMIT 1),
f AS (
    SELECT rf.id, rf.entrustment_id FROM resource_filings rf JOIN r ON rf.resource_id = r.id
    WHERE rf.lender_id = ANY($5::text[])),
e AS (SELECT id, parent_id FROM entrustments WHERE id IN (SELECT entrustment_id FROM f)),
ids (type, id) AS (
    SELECT 'resource', id FROM r
    UNION ALL SELECT 'resource_confirmation', c.id
        FROM resource_confirmations c JOIN r ON c.resource_id = r.id WHERE c.member_id = $4
    UNION ALL SELECT 'resource_filing', id FROM f
    UNION ALL SELECT 'entrustment', id FROM e
    UNION ALL SELECT 'entrustment', parent_id FROM e WHERE parent_id IS NOT NULL
    UNION ALL SELECT 'member', unnest($6::text[]))
SELECT DISTINCT ON (l.type, l.record_id)
       l.origin, l.seq, l.type, l.record_id, l.op, l.data, l.data_hash, l.prev, l.hash
FROM ids JOIN change_log l ON l.type = ids.type AND l.record_id = ids.id
ORDER BY l.type, l.record_id, l.seq DESC
"""


class NotYetWitnessed(RegistryError):
    """A peer's record is newer than the last checkpoint of its log verified here."""

    status = 503
    title = "Service Unavailable"
    code = "unavailable"


def _members(answer: TraceResult) -> list[str]:
    named = [ref.id for ref in (answer.supplier, answer.user) if ref is not None]
    return sorted({*named, *(p.id for p in answer.principals)})


async def entries(conn: Connection, answer: TraceResult) -> list[changelog.Entry]:
    """The change-log entry (the newest) of every record the answer rests on."""
    if answer.supplier is None or answer.user is None:
        return []
    kind, value = ("voice_block", answer.block) if answer.block else (answer.kind, answer.value)
    rows = await conn.fetch(_RESTS_ON, kind, value, answer.supplier.id, answer.user.id,
                            [p.id for p in answer.principals], _members(answer))
    return [changelog.Entry(r["seq"], r["origin"], r["type"], r["record_id"], r["op"],
                            None if r["data"] is None else msgspec.json.decode(r["data"]),
                            r["data_hash"], r["prev"], r["hash"]) for r in rows]


async def _log_head(
    conn: Connection, origin: str, node_id: str, key: Ed25519PrivateKey,
    node_jwk: dict[str, Any], cache: TileCache,
) -> tuple[receipts.LogHead, int]:
    if origin == node_id:
        head = await tlog.tree_head(conn, origin, cache)
        return receipts.LogHead(origin, tlog.sign_head(head, key, cache), node_jwk), head.size
    row = await conn.fetchrow(
        "SELECT size, note FROM tlog_checkpoints WHERE origin = $1 ORDER BY size DESC LIMIT 1",
        origin)
    if row is None:
        raise NotYetWitnessed(f"no checkpoint of {origin}'s log is verified here yet")
    await extend(conn, origin)
    jwk = _signing_key(row["note"], origin, (await get_peer(conn, origin)).keys)
    return receipts.LogHead(origin, row["note"], jwk), row["size"]


def _signing_key(signed: str, origin: str, jwks: list[dict[str, Any]]) -> dict[str, Any]:
    _, signatures = note.parse(signed)
    for jwk in jwks:
        public = note.jwk_public(jwk)
        if public is not None:
            wanted = note.node_verifier(origin, public).key_id
            if any(s.key_id == wanted for s in signatures):
                return jwk
    raise NotYetWitnessed(f"the key that signed {origin}'s checkpoint is no longer pinned")


class ProvenCache:
    """Proven records by what an answer rests on, while the log positions the worker's
    trace index has applied stay the same (then no record and no log behind them moved)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.positions: dict[str, int] = {}
        self.held: dict[tuple[Any, ...], tuple[list[receipts.LogHead],
                                               list[receipts.ProvenRecord]]] = {}

    def key(self, answer: TraceResult) -> tuple[Any, ...]:
        return (answer.kind, answer.block or answer.value,
                answer.supplier and answer.supplier.id, answer.user and answer.user.id,
                tuple(p.id for p in answer.principals))

    def get(self, answer: TraceResult, positions: dict[str, int],
            ) -> tuple[list[receipts.LogHead], list[receipts.ProvenRecord]] | None:
        if positions != self.positions:
            self.positions, self.held = dict(positions), {}
            return None
        return self.held.get(self.key(answer))

    def put(self, answer: TraceResult, proven: tuple[list[receipts.LogHead],
                                                     list[receipts.ProvenRecord]]) -> None:
        if len(self.held) >= self.capacity:
            self.held.pop(next(iter(self.held)))
        self.held[self.key(answer)] = proven


async def build(
    pool: asyncpg.Pool, answer: TraceResult, at: int, *, node_id: str, key: Ed25519PrivateKey,
    node_jwk: dict[str, Any], cache: TileCache, proven: ProvenCache,
    positions: dict[str, int],
) -> str:
    """The signed receipt of `answer` (decided at `at` by an index at `positions`)."""
    held = proven.get(answer, positions)
    if held is None:
        # Only now a connection: most receipts are of answers proven a moment ago.
        async with pool.acquire() as conn:
            held = await _prove(conn, answer, node_id=node_id, key=key, node_jwk=node_jwk,
                                cache=cache)
        proven.put(answer, held)
    logs, records = held
    claims = receipts.ReceiptClaims(node_id, receipts.now(), at, msgspec.to_builtins(answer),
                                   logs, records)
    return receipts.sign(claims, key, node_jwk["kid"])


async def _prove(
    conn: Connection, answer: TraceResult, *, node_id: str, key: Ed25519PrivateKey,
    node_jwk: dict[str, Any], cache: TileCache,
) -> tuple[list[receipts.LogHead], list[receipts.ProvenRecord]]:
    by_origin: dict[str, list[changelog.Entry]] = defaultdict(list)
    for entry in await entries(conn, answer):
        by_origin[entry.origin].append(entry)
    logs, records = [], []
    for origin, held in sorted(by_origin.items()):
        head, size = await _log_head(conn, origin, node_id, key, node_jwk, cache)
        logs.append(head)
        tree = stored_tree(conn, origin, size, cache)
        for entry in held:
            if entry.seq > size:
                raise NotYetWitnessed(f"{origin}'s newest records are not witnessed yet")
            records.append(receipts.prove(entry, size, await tree.inclusion(entry.seq - 1)))
    return logs, records
