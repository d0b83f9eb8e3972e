"""Two and three real nodes on loopback replicate members, refuse foreign writes, converge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import (
    RunningNode,
    chain_digest,
    eventually,
    nodes,
    pair,
    records_digest,
    restart,
)


async def _member_at(node: RunningNode, member_id: str, status: str) -> dict[str, Any] | None:
    answer = await node.operator.get(f"/v1/members/{member_id}")
    if answer.status_code == 200 and answer.json()["status"] == status:
        found: dict[str, Any] = answer.json()
        return found
    return None


async def test_members_travel_both_ways_and_stay_read_only_at_the_peer(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        await pair(fin, tel)
        agency = await admit_member(fin.operator, "collection_agency")
        carrier = await admit_member(tel.operator, "carrier")

        seen = await eventually(lambda: _member_at(tel, agency.id, "active"))
        assert seen["origin"] == "node-fin"
        assert [h["status"] for h in seen["history"]] == ["pending", "active"]
        assert (await eventually(lambda: _member_at(fin, carrier.id, "active")))["origin"] == (
            "node-tel")

        # A peer's record is read-only here: its status changes at its home node only.
        refused = await tel.operator.post(f"/v1/members/{agency.id}/status",
                                          {"status": "suspended", "reason": "seen from tel"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "foreign_record"

        # A suspension at home reaches the peer.
        done = await fin.operator.post(f"/v1/members/{agency.id}/status",
                                       {"status": "suspended", "reason": "投诉核查"})
        assert done.status_code == 200
        suspended = await eventually(lambda: _member_at(tel, agency.id, "suspended"))
        assert suspended["history"][-1]["reason"] == "投诉核查"

        # Both sides hold the same records and the same chain of each origin.
        for origin in ("node-fin", "node-tel"):
            assert await records_digest(fin.db, origin) == await records_digest(tel.db, origin)
            assert await chain_digest(fin.db, origin) == await chain_digest(tel.db, origin)


async def test_sync_status_and_metrics_show_each_peer(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        await pair(fin, tel)
        await admit_member(fin.operator, "lender")
        head = (await chain_digest(fin.db, "node-fin"))[0]

        async def caught_up() -> dict[str, Any] | None:
            answer = await tel.operator.get("/v1/sync/status")
            assert answer.status_code == 200, answer.text
            peer = answer.json()["peers"][0]
            return peer if peer["last_applied_seq"] == head else None

        peer = await eventually(caught_up)
        assert peer["node_id"] == "node-fin"
        assert peer["lag"] == 0
        assert peer["fault"] is None
        assert peer["last_error"] is None
        metrics = await tel.http.get("/metrics")
        assert metrics.status_code == 200
        assert f'registry_sync_applied_seq{{node="node-tel",peer="node-fin"}} {head}' in (
            metrics.text)
        assert 'registry_sync_fault{node="node-tel",peer="node-fin"} 0' in metrics.text

        # Only operators see the status; a member may read the feed but not the status.
        member = await admit_member(tel.operator, "carrier")
        assert (await member.get("/v1/sync/status")).status_code == 403


async def test_an_interrupted_pull_resumes_and_converges(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-fin", "node-reg",
                     sync_page_limit=3, sync_interval=0.05) as (fin, reg):
        for _ in range(25):
            await admit_member(fin.operator, "collection_agency")
        head = (await chain_digest(fin.db, "node-fin"))[0]
        await pair(fin, reg)

        async def partly() -> int:
            seq = await reg.db.fetchval(
                "SELECT applied_seq FROM sync_state WHERE peer = 'node-fin'")
            return int(seq or 0)

        got = await eventually(partly, every=0.01)
        assert got < head
        # The regional node stops mid-pull and starts again on the same database.
        reg = await restart(reg)
        try:
            async def converged() -> bool:
                return await partly() == head

            await eventually(converged)
            assert await records_digest(reg.db, "node-fin") == (
                await records_digest(fin.db, "node-fin"))
            assert await chain_digest(reg.db, "node-fin") == await chain_digest(fin.db, "node-fin")
        finally:
            await reg.stop()


async def test_a_member_reads_the_feed_redacted_to_trace_records(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-fin") as (fin,):
        carrier: SignedClient = await admit_member(fin.operator, "carrier")
        await fin.db.execute("SELECT 1")
        answer = await carrier.get("/v1/sync/changes?after=0&limit=10")
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert [c["seq"] for c in page["changes"]] == [1, 2]
        assert page["checkpoint"]["node"] == "node-fin"
        assert page["checkpoint"]["seq"] == 2
        assert all(c["origin"] == "node-fin" for c in page["changes"])
        # Every field API.md §8 names, data included; `redacted` only when it is true.
        assert set(page["changes"][0]) == {"seq", "origin", "type", "id", "op", "data",
                                           "data_hash", "prev", "hash"}
        assert {"node", "seq", "hash", "at", "sig"} <= set(page["checkpoint"])
        assert page["changes"][0]["prev"] == "0" * 64
        for bad in ("after=-1", "limit=0", "limit=10001", "after=x"):
            answer = await carrier.get(f"/v1/sync/changes?{bad}")
            assert answer.status_code in (400, 422), (bad, answer.text)
        unknown = await carrier.get("/v1/sync/changes?origin=node-nowhere")
        assert unknown.status_code == 404
        # A signed request is needed: the feed is not public.
        assert (await fin.http.get("/v1/sync/changes")).status_code == 401


async def test_collector_filings_reach_only_peers_configured_for_them(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    from sync.peers import DEFAULT_SEND_TYPES
    from tests.support.people import filing_body, make_prc_id

    async with nodes(databases, tmp_path, "node-fin", "node-tel", "node-reg") as (
        fin, tel, reg
    ):
        await pair(fin, tel)
        await pair(fin, reg, **{"node-reg": [*DEFAULT_SEND_TYPES, "collector_filing"]})
        agency = await admit_member(fin.operator, "collection_agency")
        filed = await agency.post("/v1/collector-filings", filing_body(make_prc_id()))
        assert filed.status_code == 201, filed.text
        head = await chain_digest(fin.db, "node-fin")

        async def both_synced() -> bool:
            return (await chain_digest(tel.db, "node-fin") == head
                    and await chain_digest(reg.db, "node-fin") == head)

        await eventually(both_synced)
        held = "SELECT count(*) FROM collector_filings WHERE id = $1"
        logged = ("SELECT data IS NULL FROM change_log WHERE origin = 'node-fin'"
                  " AND type = 'collector_filing' AND record_id = $1")
        filing_id = filed.json()["id"]
        # The telecom node holds the chain link, without the filing's data.
        assert await tel.db.fetchval(held, filing_id) == 0
        assert await tel.db.fetchval(logged, filing_id) is True
        # The regional node, configured for filings, holds the filing itself.
        assert await reg.db.fetchval(held, filing_id) == 1
        assert await reg.db.fetchval(logged, filing_id) is False
        # The telecom node's members read the chain it holds redacted as it got it.
        carrier = await admit_member(tel.operator, "carrier")
        page = (await carrier.get("/v1/sync/changes?origin=node-fin&after=0&limit=100")).json()
        (entry,) = [c for c in page["changes"] if c["id"] == filing_id]
        assert entry["redacted"] is True
        assert entry["data"] is None
        # A peer may pull only the serving node's own chain: no relaying.
        peers_view = await tel.operator.get("/v1/sync/heads")
        assert peers_view.json()["origins"]["node-fin"] == head[0]


async def test_registry_peer_add_pins_the_keys_the_peer_publishes(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    import asyncio
    import json
    import os
    import sys

    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        env = {**os.environ, "DATABASE_URL": tel.dsn}

        async def registry(*args: str) -> tuple[int, str, str]:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "api.cli", *args, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await process.communicate()
            return process.returncode or 0, out.decode(), err.decode()

        code, out, err = await registry("peer", "add", "node-fin", fin.url,
                                        "--also-send", "collector_filing")
        assert code == 0, err
        added = json.loads(out)
        fin_kid = (await fin.http.get("/.well-known/registry-node")).json()["keys"][0]["kid"]
        assert added["keys"] == [fin_kid]
        assert "collector_filing" in added["send_types"]
        assert "resource" in added["send_types"]
        # The id must be the one the URL's node gives itself.
        code, _, err = await registry("peer", "add", "node-other", fin.url)
        assert code != 0
        assert "node-fin" in err
        code, out, _ = await registry("peer", "list")
        assert [p["node_id"] for p in json.loads(out)] == ["node-fin"]


async def test_one_worker_of_a_node_pulls(databases: TemplateDatabases, tmp_path: Path) -> None:
    from sync.puller import PULLER_LOCK
    from tests.support.nodes import serve

    async with nodes(databases, tmp_path, "node-fin") as (fin,):
        second = await serve(fin.settings, "node-fin")  # another worker of the same node
        try:
            async def pullers() -> int:
                return int(await second.db.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND objid = $1 AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())", PULLER_LOCK))

            assert await eventually(pullers) == 1
            # Should the pulling worker stop, the other one takes over.
            await fin.stop()
            assert await eventually(pullers, within=20) == 1
        finally:
            await second.stop()


async def test_a_deletion_travels_as_a_tombstone(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    from registry import changelog

    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        await pair(fin, tel)
        agency = await admit_member(fin.operator, "collection_agency", status="pending")
        await eventually(lambda: _member_at(tel, agency.id, "pending"))
        # No endpoint deletes a member; a store that deletes logs a tombstone like this.
        async with fin.db.transaction():
            await fin.db.execute("DELETE FROM member_status_history WHERE member_id = $1",
                                 agency.id)
            await fin.db.execute("DELETE FROM principal_keys WHERE principal_id = $1", agency.id)
            await fin.db.execute("DELETE FROM members WHERE id = $1", agency.id)
            tombstone = await changelog.append_one(fin.db, "member", agency.id, None)
        assert tombstone.op == "delete"

        async def gone() -> bool:
            return (await tel.operator.get(f"/v1/members/{agency.id}")).status_code == 404

        await eventually(gone)
        assert await records_digest(fin.db, "node-fin") == await records_digest(tel.db, "node-fin")
