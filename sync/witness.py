"""A node as witness of its peers' logs (API.md §15, C2SP tlog-cosignature).

After each pull the node reads the peer's tree checkpoint and accepts it only when it is
consistent with the last one it accepted and with the chain the peer sent it: the same
root where it holds that much of the chain, else an inclusion proof of the last entry it
holds. A peer that shows it one history and signs another is a recorded fault. What it
accepts it cosigns and serves at /tlog/cosigned/{origin}.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry_client import merkle, note
from sync import tlog
from sync.client import FeedClient
from sync.errors import SyncFault
from sync.tlog_store import TileCache, extend, stored_tree


def log_verifier(node_id: str, signed_note: str, jwks: list[dict[str, Any]]) -> note.Verifier:
    """The pinned node key that signed this note, named by the note's key id."""
    try:
        _, signatures = note.parse(signed_note)
    except note.NoteError as exc:
        raise SyncFault(f"tree checkpoint: {exc}") from exc
    for jwk in jwks:
        public = note.jwk_public(jwk)
        if public is None:
            continue
        verifier = note.node_verifier(node_id, public)
        if any(s.name == node_id and s.key_id == verifier.key_id for s in signatures):
            return verifier
    raise SyncFault(f"the tree checkpoint carries no signature by a pinned key of {node_id}")


async def witness(
    pool: asyncpg.Pool, peer_id: str, jwks: list[dict[str, Any]], client: FeedClient, *,
    me: str, key: Ed25519PrivateKey, cache: TileCache,
) -> note.TreeHead:
    signed = await client.tree_checkpoint()
    verifier = log_verifier(peer_id, signed, jwks)
    size = tlog.claimed_size(signed)
    async with pool.acquire() as conn:
        before = await tlog.last_verified(conn, peer_id)
        held = await extend(conn, peer_id)
    proof: list[bytes] = []
    if before is not None and before.size != size:
        proof = await client.consistency(min(before.size, size), max(before.size, size))
    head, _ = tlog.next_head(before, signed, verifier, proof)
    await _matches_held_chain(pool, client, head, held, cache)
    async with pool.acquire() as conn:
        return await tlog.accept_peer_checkpoint(
            conn, signed_note=signed, peer=verifier, proof=proof, witness_id=me,
            witness_key=key)


async def _matches_held_chain(
    pool: asyncpg.Pool, client: FeedClient, head: note.TreeHead, held: int, cache: TileCache,
) -> None:
    if held >= head.size:
        async with pool.acquire() as conn:
            local = await stored_tree(conn, head.origin, head.size, cache).root()
        if local != head.root:
            raise SyncFault(f"split view: {head.origin} signs a tree of size {head.size}"
                            " that is not the chain it sent")
        return
    if held == 0:
        return
    proof = await client.inclusion(held, head.size)
    async with pool.acquire() as conn:
        last = await conn.fetchval(
            "SELECT hash FROM change_log WHERE origin = $1 AND seq = $2", head.origin, held)
    try:
        merkle.verify_inclusion(bytes.fromhex(last), held - 1, head.size, proof, head.root)
    except merkle.ProofError as exc:
        raise SyncFault(f"split view: the chain {head.origin} sent is not in the tree it"
                        f" signs: {exc}") from exc
