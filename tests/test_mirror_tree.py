"""A carrier mirror watches its node's Merkle tree: consistent growth is trusted and kept
across restarts, a fork is a fault, k named witnesses can be required, and a hostile
witness is a recorded error, never a hang."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry_client import note
from sync.client import AnswerLimits
from sync.errors import PullFailed, SyncFault
from sync.mirror import CarrierMirror
from sync.mirror_tree import Witness
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.hostile import HostilePeer, Writer
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


DEADLINE = 2.0  # the mirror's deadline for one whole answer, in seconds
FLOOD = 64 * 1024 * 1024


async def _drip(writer: Writer) -> None:
    """A cosigned checkpoint of a plausible length, one byte every 0.2 s."""
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2000"
                 b"\r\n\r\n")
    for _ in range(2000):
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.2)


async def _flood(writer: Writer) -> None:
    """64 MiB with no length declared (the body ends when the peer hangs up)."""
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n")
    chunk = b"x" * (1024 * 1024)
    for _ in range(FLOOD // len(chunk)):
        writer.write(chunk)
        await writer.drain()


async def test_a_hostile_witness_is_a_recorded_error_and_the_mirror_keeps_running(
    databases: TemplateDatabases, tmp_path: Path,
) -> None:
    drip, flood = HostilePeer("witness-drip", _drip), HostilePeer("witness-flood", _flood)
    witnesses = [Witness(peer.node_id, Ed25519PrivateKey.generate().public_key(),
                         await peer.start()) for peer in (drip, flood)]
    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        carrier = await admit_member(tel.operator, "carrier")
        mirror = _mirror(tel, carrier, tmp_path / "m" / "snap", witnesses=witnesses,
                         witnesses_required=1, limits=AnswerLimits(deadline=DEADLINE))
        running = asyncio.create_task(mirror.run(interval=0.2))
        try:
            async def both_recorded_twice() -> str | None:
                error = mirror.status.last_error or ""
                return error if ("witness-drip" in error and "witness-flood" in error
                                 and drip.requests >= 2 and flood.requests >= 2) else None

            error = await eventually(both_recorded_twice, within=30, every=0.2)
            assert "0 of the 1 witness cosignatures required" in error
            assert "witness-drip: " in error
            assert f"no whole answer within {DEADLINE:g} s" in error
            assert "larger than the 16384 bytes allowed" in error
            assert flood.sent < 16 * 1024 * 1024  # cut off near the cap, not read whole
            assert mirror.tree.head is None  # nothing unwitnessed was trusted
            assert mirror.status.fault is None  # a fault of the witness, not of the node
            assert not running.done()

            # The loop is alive: once no cosignature is required, the next sync succeeds.
            mirror.tree.required = 0

            async def trusted() -> bool:
                return mirror.tree.head is not None and mirror.status.last_error is None
            await eventually(trusted, within=30, every=0.2)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            mirror.close(snapshot=False)
            for peer in (drip, flood):
                await peer.stop()
