"""A carrier mirror's snapshot: a restart from it answers as the live node does, the
journal is cut to what came after it, and a torn or altered one is never applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from structlog.testing import capture_logs

from api.routes.trace import parse_at
from registry.trace import snapshot as index_snapshot
from sync.mirror import CarrierMirror
from sync.mirror_snapshot import MAGIC
from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases
from tests.support.nodes import RunningNode, chain_digest, nodes
from tests.support.whitelist import IN_WINDOW, cast, confirm, supply, trace, traceable_number
from tests.test_mirror import RecordingIndex

VALUES = ["+8613911110001", "+8613911110002", "+8613911110003", "+8613911110009", "95555"]


def _mirror(node: RunningNode, carrier: SignedClient, snapshot: Path,
            index: Any = None) -> CarrierMirror:
    return CarrierMirror(node.url, member_id=carrier.id, key=carrier.signer.key,
                         kid=carrier.signer.kid, index=index, snapshot=snapshot, page_limit=3)


async def _same_answers(node: RunningNode, mirror: CarrierMirror) -> None:
    mirrored = mirror.trace(VALUES, parse_at(IN_WINDOW))
    for value, answer in zip(VALUES, mirrored, strict=True):
        live = await trace(node.operator, value)
        assert msgspec.json.decode(msgspec.json.encode(answer)) == live, value


def _journal(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + ".journal")


async def test_a_restart_from_snapshot_and_tail_answers_as_the_live_node(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        c = await cast(tel.operator)
        await traceable_number(c, VALUES[0])
        made = await supply(c.carrier, c.lender, VALUES[1])
        await confirm(c.lender, made["id"])
        pending = await supply(c.carrier, c.agency, VALUES[2])  # not confirmed yet
        snapshot = tmp_path / "m" / "mirror.snapshot"
        first = _mirror(tel, c.carrier, snapshot)
        await first.sync_once()
        written = first.write_snapshot()
        assert written is not None
        assert written.tail == (await chain_digest(tel.db, "node-tel"))[0]
        # The journal is cut to its header: the snapshot holds all it had.
        assert _journal(snapshot).read_bytes().count(b"\n") == 1
        await confirm(c.agency, pending["id"])
        assert await first.sync_once() > 0
        tail = _journal(snapshot).read_bytes().count(b"\n") - 1
        assert tail > 0
        first.close(snapshot=False)  # a crash: the confirmation is in the journal only

        again = _mirror(tel, c.carrier, snapshot)
        assert again.load() == (await chain_digest(tel.db, "node-tel"))[0]
        # The node's own index format, mapped: only the journal's tail is applied.
        assert snapshot.read_bytes().startswith(index_snapshot.MAGIC)
        assert len(index_snapshot.read(snapshot).base.slot_rid) == written.records == 3
        assert again.loaded == tail
        await _same_answers(tel, again)  # before any pull: from the files alone
        # It resumes where the tail ended, the chain verified from the stored hash.
        assert await again.sync_once() == 0
        suspended = await tel.operator.post(f"/v1/members/{c.agency.id}/status",
                                            {"status": "suspended", "reason": "核查"})
        assert suspended.status_code == 200
        assert await again.sync_once() > 0
        await _same_answers(tel, again)
        assert again.snapshot_due() is False  # 200,000 entries or ten minutes
        assert await again.write_snapshot_async() is not None  # as `run` writes it
        again.close()
        assert snapshot.with_name("mirror.snapshot.prev").exists()
        assert _journal(snapshot).read_bytes().count(b"\n") == 1

        third = _mirror(tel, c.carrier, snapshot)
        assert third.load() == (await chain_digest(tel.db, "node-tel"))[0]
        assert third.loaded == 0  # nothing applied: the index stands on the file
        await _same_answers(tel, third)
        third.close()


async def test_an_index_snapshot_not_whole_is_never_used(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        c = await cast(tel.operator)
        await traceable_number(c, VALUES[0])
        snapshot = tmp_path / "mirror.snapshot"
        mirror = _mirror(tel, c.carrier, snapshot)
        await mirror.sync_once()
        mirror.write_snapshot()
        await supply(c.carrier, c.agency, VALUES[1])
        await mirror.sync_once()
        mirror.write_snapshot()  # the first one becomes .prev
        mirror.close(snapshot=False)
        good = snapshot.read_bytes()
        altered = bytearray(good)
        altered[100] ^= 1
        for spoiled in (good[:-40], bytes(altered), b"RMSNAP01" + good[8:]):
            snapshot.write_bytes(spoiled)
            again = _mirror(tel, c.carrier, snapshot)
            with capture_logs() as logs:
                again.load()
            events = [entry["event"] for entry in logs]
            assert events[:2] == ["mirror_snapshot_corrupt", "mirror_snapshot_fallback"], events
            await again.sync_once()
            await _same_answers(tel, again)  # from .prev and the pull after it
            again.close(snapshot=False)
            snapshot.with_name("mirror.snapshot.corrupt").unlink()


async def test_a_snapshot_of_records_still_loads_and_the_next_is_an_index(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        c = await cast(tel.operator)
        await traceable_number(c, VALUES[0])
        snapshot = tmp_path / "mirror.snapshot"
        older = _mirror(tel, c.carrier, snapshot, RecordingIndex())  # writes records
        await older.sync_once()
        older.close()
        assert snapshot.read_bytes().startswith(MAGIC)
        upgraded = _mirror(tel, c.carrier, snapshot)
        upgraded.load()
        assert upgraded.loaded > 0  # its records applied
        await _same_answers(tel, upgraded)
        await supply(c.carrier, c.agency, VALUES[1])
        await upgraded.sync_once()
        upgraded.close()
        assert snapshot.read_bytes().startswith(index_snapshot.MAGIC)
        last = _mirror(tel, c.carrier, snapshot)
        last.load()
        await _same_answers(tel, last)
        last.close()


async def test_a_corrupt_snapshot_is_never_applied(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        c = await cast(tel.operator)
        snapshot = tmp_path / "mirror.snapshot"
        mirror = _mirror(tel, c.carrier, snapshot, RecordingIndex())
        await mirror.sync_once()
        mirror.write_snapshot()
        older = dict(mirror.cursors["node-tel"].__dict__)
        await supply(c.carrier, c.agency, VALUES[0])
        await mirror.sync_once()
        mirror.write_snapshot()  # the first one becomes .prev
        await supply(c.carrier, c.agency, VALUES[1])
        await mirror.sync_once()
        mirror.close(snapshot=False)
        head = (await chain_digest(tel.db, "node-tel"))[0]

        # One byte altered: detected, set aside, and the previous snapshot is used.
        content = bytearray(snapshot.read_bytes())
        content[len(content) // 2] ^= 0x01
        snapshot.write_bytes(bytes(content))
        index = RecordingIndex()
        fallback = _mirror(tel, c.carrier, snapshot, index)
        with capture_logs() as logs:
            assert fallback.load() == older["seq"]
        events = [entry["event"] for entry in logs]
        assert events[:3] == ["mirror_snapshot_corrupt", "mirror_snapshot_fallback",
                              "mirror_journal_gap"], events
        assert snapshot.with_name("mirror.snapshot.corrupt").exists()
        assert fallback.cursors["node-tel"].hash == older["hash"]
        assert await fallback.sync_once() == head - older["seq"]
        whole = RecordingIndex()
        fresh = _mirror(tel, c.carrier, tmp_path / "fresh.snapshot", whole)
        await fresh.sync_once()
        assert index.records == whole.records
        fallback.close()
        fresh.close(snapshot=False)

        # Torn, both of them: nothing is applied, and everything is pulled again.
        for path in (snapshot, snapshot.with_name("mirror.snapshot.prev")):
            path.write_bytes(path.read_bytes()[:-40])
        index = RecordingIndex()
        repull = _mirror(tel, c.carrier, snapshot, index)
        with capture_logs() as logs:
            assert repull.load() == 0
        events = [entry["event"] for entry in logs]
        assert events.count("mirror_snapshot_corrupt") == 2
        assert "mirror_full_repull" in events
        assert index.applied == 0
        assert await repull.sync_once() == head
        assert index.records == whole.records
        repull.close()


def test_a_journal_of_an_older_mirror_is_adopted_and_compacted(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    snapshot = tmp_path / "mirror.journal"  # where an older mirror kept its journal
    snapshot.write_bytes(
        b'{"node":"node-tel","url":"http://tel.invalid","keys":[],"member":"m_c"}\n'
        b'["node-tel",1,"member","m_a","",{"id":"m_a","status":"active"}]\n'
        b'["node-tel",2,"member","m_a","h2",{"id":"m_a","status":"suspended"}]\n')

    def start(index: RecordingIndex) -> CarrierMirror:
        return CarrierMirror("http://tel.invalid", member_id="m_c",
                             key=Ed25519PrivateKey.generate(), kid="k1", index=index,
                             snapshot=snapshot)

    first = RecordingIndex()
    old = start(first)
    assert old.load() == 2
    assert first.records == {("member", "m_a"): {"id": "m_a", "status": "suspended"}}
    old.close()
    assert snapshot.read_bytes().startswith(b"RMSNAP01")
    second = RecordingIndex()
    again = start(second)
    assert again.load() == 2
    assert second.applied == 1  # the latest version only
    assert second.records == first.records
    assert again.cursors["node-tel"].hash == "h2"
