"""Peers as witnesses: each checks the other's tree checkpoint and cosigns it; a node that
signs a tree other than the chain it sent (a split view, a rewritten history) is a fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from litestar.testing import AsyncTestClient

from registry_client import note
from sync import tlog
from sync.errors import SyncFault
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import RunningNode, eventually, nodes, pair


async def _node_public(node: RunningNode) -> Ed25519PublicKey:
    jwk = (await node.http.get("/.well-known/registry-node")).json()["keys"][0]
    public = note.jwk_public(jwk)
    assert public is not None
    return public


async def _witnessed(node: RunningNode, origin: str) -> int:
    size = await node.db.fetchval(
        "SELECT max(size) FROM tlog_checkpoints WHERE origin = $1", origin)
    return int(size or 0)


async def _own_size(node: RunningNode) -> int:
    return int(await node.db.fetchval(
        "SELECT max(seq) FROM change_log WHERE origin = $1", node.node_id) or 0)


async def _paired_and_witnessed(fin: RunningNode, tel: RunningNode) -> int:
    """Pair the nodes, write at fin, and wait until tel has witnessed fin's whole log."""
    await pair(fin, tel)
    await admit_member(fin.operator, "lender")
    size = await _own_size(fin)

    async def caught_up() -> bool:
        return await _witnessed(tel, "node-fin") == size
    await eventually(caught_up)
    return size


async def test_peers_cosign_each_others_checkpoints(
    databases: TemplateDatabases, tmp_path: Path,
) -> None:
    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        size = await _paired_and_witnessed(fin, tel)

        cosigned = (await tel.http.get("/tlog/cosigned/node-fin")).text
        head, signatures = note.open_checkpoint(
            cosigned, note.node_verifier("node-fin", await _node_public(fin)))
        assert head.size == size
        witness = note.witness_verifier("node-tel", await _node_public(tel))
        assert note.verify_cosignature(head.text(), signatures, witness) > 0
        assert (await tel.http.get("/tlog/cosigned/node-else")).status_code == 404


async def test_a_node_that_rewrites_its_history_is_caught_by_its_witness(
    databases: TemplateDatabases, tmp_path: Path,
) -> None:
    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        await _paired_and_witnessed(fin, tel)

        # node-fin rewrites an entry its peer already holds, then goes on writing: the tree
        # it now signs does not extend the one its witness accepted.
        await fin.db.execute(
            "UPDATE change_log SET hash = repeat('ab', 32) WHERE origin = $1 AND seq = 1",
            "node-fin")
        await admit_member(fin.operator, "lender")

        async def faulted() -> str | None:
            fault: str | None = await tel.db.fetchval(
                "SELECT fault FROM sync_state WHERE peer = 'node-fin'")
            return fault
        fault = await eventually(faulted)
        assert "fork" in fault or "split view" in fault
        status = (await tel.operator.get("/v1/sync/status")).json()
        assert "fork" in str(status) or "split view" in str(status)


async def test_two_checkpoints_of_one_size_with_different_roots_are_a_fork(
    db: asyncpg.Connection, client: AsyncTestClient[Any],
) -> None:
    key = Ed25519PrivateKey.generate()
    log = note.node_verifier("node-x", key.public_key())

    def signed(size: int, root: bytes) -> str:
        text = note.TreeHead("node-x", size, root).text()
        return note.render(text, [note.sign(text, "node-x", key)])

    witness_key = Ed25519PrivateKey.generate()
    first = await tlog.accept_peer_checkpoint(
        db, signed_note=signed(4, b"\x01" * 32), peer=log, proof=[], witness_id="me",
        witness_key=witness_key)
    assert first.size == 4
    for bad_note, proof in [(signed(4, b"\x02" * 32), []),
                            (signed(5, b"\x03" * 32), [b"\x04" * 32]),
                            (signed(3, b"\x05" * 32), [b"\x06" * 32])]:
        with pytest.raises(SyncFault, match="fork"):
            await tlog.accept_peer_checkpoint(
                db, signed_note=bad_note, peer=log, proof=proof, witness_id="me",
                witness_key=witness_key)
    # A note signed by another key is no checkpoint of this log.
    other = Ed25519PrivateKey.generate()
    text = note.TreeHead("node-x", 6, b"\x07" * 32).text()
    forged = note.render(text, [note.sign(text, "node-x", other)])
    with pytest.raises(SyncFault, match="no signature"):
        tlog.next_head(first, forged, log, [])
