"""A carrier mirror pulls every origin its node holds, verifies it, and resumes after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.mirror import CarrierMirror
from sync.mirror_snapshot import MAGIC
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import RunningNode, chain_digest, eventually, nodes, pair


class RecordingIndex:
    """Holds what it was fed, the way a trace index would, and counts the feeding."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.applied = 0

    def apply(self, origin: str, seq: int, type: str, record_id: str,
              data: dict[str, Any] | None) -> None:
        self.records[(type, record_id)] = data
        self.applied += 1

    def held(self, record_type: str, record_id: str) -> dict[str, Any]:
        data = self.records[(record_type, record_id)]
        assert data is not None, f"{record_type} {record_id} is a tombstone"
        return data


def _mirror(node: RunningNode, carrier: Any, index: RecordingIndex, snapshot: Path,
            ) -> CarrierMirror:
    key: Ed25519PrivateKey = carrier.signer.key
    return CarrierMirror(node.url, member_id=carrier.id, key=key, kid=carrier.signer.kid,
                         index=index, snapshot=snapshot, page_limit=4)


async def test_mirror_holds_every_origin_and_resumes_from_its_snapshot(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-tel", "node-fin") as (tel, fin):
        await pair(tel, fin)
        carrier = await admit_member(tel.operator, "carrier")
        agency = await admit_member(fin.operator, "collection_agency")
        fin_head = await chain_digest(fin.db, "node-fin")

        async def synced() -> bool:
            return await chain_digest(tel.db, "node-fin") == fin_head

        await eventually(synced)
        snapshot = tmp_path / "mirror" / "journal"
        first = RecordingIndex()
        mirror = _mirror(tel, carrier, first, snapshot)
        applied = await mirror.sync_once()
        mirror.close()
        tel_seq = (await chain_digest(tel.db, "node-tel"))[0]
        assert applied == tel_seq + fin_head[0]
        assert first.held("member", agency.id)["status"] == "active"
        assert first.held("member", carrier.id)["origin"] == "node-tel"
        assert mirror.cursors["node-fin"].seq == fin_head[0]

        # Closed cleanly: a snapshot of the latest records, and an empty journal.
        journal = snapshot.with_name("journal.journal")
        assert snapshot.read_bytes().startswith(MAGIC)
        assert journal.read_bytes().count(b"\n") == 1  # the header alone

        # A restart loads the snapshot and pulls only what is new.
        await fin.operator.post(f"/v1/members/{agency.id}/status",
                                {"status": "suspended", "reason": "核查"})
        fin_head = await chain_digest(fin.db, "node-fin")
        await eventually(synced)
        second = RecordingIndex()
        again = _mirror(tel, carrier, second, snapshot)
        assert again.load() == applied
        assert second.records == first.records
        assert await again.sync_once() == 1
        assert second.held("member", agency.id)["status"] == "suspended"
        again.close(snapshot=False)  # as a crash: the change stays in the journal's tail
        # A torn page (a crash mid-write) is dropped, and fetched again.
        with journal.open("ab") as tail:
            tail.write(b'["node-fin",9,"member","m_x","",null]\n["node-fin", 10')
        third = RecordingIndex()
        resumed = _mirror(tel, carrier, third, snapshot)
        assert resumed.load() == applied + 1
        assert third.records == second.records
        assert await resumed.sync_once() == 0
        resumed.close()


async def test_the_mirror_command_answers_traces_on_stdin_and_resumes(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    import asyncio
    import json
    import sys

    from registry.signing_keys import private_pem
    from tests.support.whitelist import IN_WINDOW, confirm, supply

    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        carrier = await admit_member(tel.operator, "carrier")
        lender = await admit_member(tel.operator, "lender", subtype="commercial_bank")
        made = await supply(carrier, lender, "+8613900000001")
        await confirm(lender, made["id"])
        key_path = tmp_path / "carrier.pem"
        key_path.write_bytes(private_pem(carrier.signer.key))  # type: ignore[arg-type]
        journal = tmp_path / "carrier.journal"
        command = [sys.executable, "-m", "api.cli", "mirror", tel.url, "--key", str(key_path),
                   "--member-id", carrier.id, "--kid", carrier.signer.kid,
                   "--snapshot", str(journal)]

        async def run(*extra: str, stdin: bytes = b"") -> tuple[bytes, bytes]:
            process = await asyncio.create_subprocess_exec(
                *command, *extra, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await process.communicate(stdin)
            assert process.returncode == 0, err.decode()
            return out, err

        def summary(err: bytes) -> dict[str, Any]:
            # stderr holds the sync summary and the log, all of it JSON lines.
            lines = [json.loads(line) for line in err.decode().splitlines()]
            (found,) = [line for line in lines if "pulled" in line]
            summary: dict[str, Any] = found
            return summary

        _, err = await run("--once")
        first = summary(err)
        assert first["node"] == "node-tel"
        assert first["pulled"] > 0
        out, err = await run(stdin=f"+86 139 0000 0001 {IN_WINDOW}\n+8613900000002\n".encode())
        again = summary(err)
        assert journal.exists()
        assert journal.with_name("carrier.journal.journal").exists()
        assert again["from_snapshot"] == first["pulled"]
        assert again["pulled"] == 0
        answers = [json.loads(line) for line in out.decode().splitlines()]
        assert len(answers) == 2  # stdout holds the answers and nothing else
        assert answers[0]["value"] == "+8613900000001"
        assert answers[0]["traceable"] is True, answers[0]
        assert answers[0]["user"]["id"] == lender.id
        assert answers[1]["reason"] == "unregistered"
        # A corrupt snapshot is logged (as JSON, on stderr); stdout still holds answers only.
        journal.write_bytes(b"not a snapshot")
        out, err = await run(stdin=b"+8613900000001\n")
        assert [json.loads(line)["value"] for line in out.decode().splitlines()] == [
            "+8613900000001"]
        logged = [json.loads(line) for line in err.decode().splitlines()]
        assert {"mirror_snapshot_corrupt", "mirror_full_repull"} <= {
            line.get("event") for line in logged}, logged

async def test_a_mirror_applies_nothing_from_a_tampered_feed(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    import pytest

    from sync.errors import SyncFault
    from tests.support.nodes import serve_asgi
    from tests.test_sync_faults import TamperingProxy

    async with nodes(databases, tmp_path, "node-tel") as (tel,):
        carrier = await admit_member(tel.operator, "carrier")
        server, task, proxy = await serve_asgi(TamperingProxy(tel.url), lifespan="off")
        try:
            index = RecordingIndex()
            mirror = CarrierMirror(proxy, member_id=carrier.id, key=carrier.signer.key,
                                   kid=carrier.signer.kid, index=index,
                                   snapshot=tmp_path / "j")
            with pytest.raises(SyncFault, match="seq 2: data does not hash"):
                await mirror.sync_once()
            assert index.applied == 0
            assert mirror.status.fault is not None
            assert not (tmp_path / "j").exists() or (tmp_path / "j").stat().st_size == 0
            # A faulted mirror stays stopped.
            with pytest.raises(SyncFault):
                await mirror.sync_once()
        finally:
            server.should_exit = True
            await task
