"""A carrier mirror watches its node's Merkle tree: consistent growth is trusted and kept
across restarts, a fork is a fault, and k named witnesses can be required."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry_client import note
from sync.errors import PullFailed, SyncFault
from sync.mirror import CarrierMirror
from sync.mirror_tree import Witness
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import RunningNode, eventually, nodes, pair


def _mirror(node: RunningNode, carrier: Any, snapshot: Path, **options: Any) -> CarrierMirror:
    return CarrierMirror(node.url, member_id=carrier.id, key=carrier.signer.key,
                         kid=carrier.signer.kid, snapshot=snapshot, **options)


async def _witness(node: RunningNode) -> Witness:
    jwk = (await node.http.get("/.well-known/registry-node")).json()["keys"][0]
    public = note.jwk_public(jwk)
    assert public is not None
    return Witness(node.node_id, public, node.url)


async def test_the_mirror_trusts_consistent_growth_and_catches_a_fork(
    databases: TemplateDatabases, tmp_path: Path,
) -> None:
    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        carrier = await admit_member(tel.operator, "carrier")
        snapshot = tmp_path / "mirror" / "snap"
        mirror = _mirror(tel, carrier, snapshot)
        await mirror.sync_once()
        first = mirror.tree.head
        assert first is not None
        assert first.size == mirror.cursors["node-tel"].seq
        await admit_member(tel.operator, "lender")
        await mirror.sync_once()
        assert mirror.tree.head is not None
        assert mirror.tree.head.size > first.size
        mirror.close()

        # A restart keeps watching from the head it trusted.
        again = _mirror(tel, carrier, snapshot)
        again.load()
        assert again.tree.head == mirror.tree.head
        text, _ = note.parse((snapshot.parent / "snap.tree").read_text())
        assert note.tree_head(text) == mirror.tree.head

        # The node rewrites an entry the mirror holds and writes on: a fork.
        await tel.db.execute(
            "UPDATE change_log SET hash = repeat('cd', 32) WHERE origin = 'node-tel' AND seq = 2")
        await admit_member(tel.operator, "lender")
        with pytest.raises(SyncFault, match=r"fork|split view"):
            await again.sync_once()
        assert again.status.fault is not None
        again.close(snapshot=False)


async def test_a_mirror_can_require_witness_cosignatures(
    databases: TemplateDatabases, tmp_path: Path,
) -> None:
    async with nodes(databases, tmp_path, "node-tel", "node-fin", "node-reg") as (
            tel, fin, reg):
        await pair(tel, fin)
        carrier = await admit_member(tel.operator, "carrier")
        size = int(await tel.db.fetchval(
            "SELECT max(seq) FROM change_log WHERE origin = 'node-tel'"))

        async def witnessed() -> bool:
            seen = await fin.db.fetchval(
                "SELECT max(size) FROM tlog_checkpoints WHERE origin = 'node-tel'")
            return bool(seen == size)
        await eventually(witnessed)

        # node-fin is a peer of node-tel and cosigns its tree; node-reg has never seen it.
        trusting = _mirror(tel, carrier, tmp_path / "a" / "snap",
                           witnesses=[await _witness(fin)], witnesses_required=1)
        await trusting.sync_once()
        assert trusting.tree.head is not None
        assert trusting.tree.head.size == size
        trusting.close(snapshot=False)

        strict = _mirror(tel, carrier, tmp_path / "b" / "snap",
                         witnesses=[await _witness(fin), await _witness(reg)],
                         witnesses_required=2)
        with pytest.raises(PullFailed, match="1 of the 2"):
            await strict.sync_once()
        assert strict.tree.head is None
        strict.close(snapshot=False)
