"""`registry verify` over a real node's database: a good one passes; each kind of tampering
with its own chain, a replicated peer chain or a stored peer checkpoint is a reported break
and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from registry.changelog import data_hash, entry_hash
from registry.db import connect
from sync.self_check import Report, verify_node
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import eventually, nodes, pair

OWN, PEER = "node-own", "node-peer"
Tamper = Callable[[asyncpg.Connection], Awaitable[object]]


@pytest.fixture(scope="module")
async def held(
    databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    """The database of node-own after it replicated node-peer's chain and checkpoint."""
    async with nodes(databases, tmp_path_factory.mktemp("verify"), OWN, PEER) as (own, peer):
        await pair(own, peer)
        await admit_member(own.operator, "collection_agency", status="suspended")
        await admit_member(peer.operator, "carrier")
        await admit_member(peer.operator, "lender")
        peer_head = await peer.db.fetchval(
            "SELECT max(seq) FROM change_log WHERE origin = $1", PEER)

        async def checkpointed() -> bool:
            stored = await own.db.fetchval(
                "SELECT checkpoint->>'seq' FROM sync_state WHERE peer = $1", PEER)
            return stored is not None and int(stored) == peer_head

        await eventually(checkpointed)
        yield own.dsn


@pytest.fixture
async def conn(held: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(held)  # with the node's codecs, as the command has
    yield connection
    await connection.close()


async def _verified_after(conn: asyncpg.Connection, tamper: Tamper) -> Report:
    """Tamper inside a transaction, verify what it made, and roll it all back."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        await tamper(conn)
        return await verify_node(conn, OWN)
    finally:
        await transaction.rollback()


def _rewrite_data(origin: str, seq: int) -> Tamper:
    def tamper(conn: asyncpg.Connection) -> Awaitable[object]:
        return conn.execute(
            "UPDATE change_log SET data = replace(data, '\"status\"', '\"statuz\"')"
            " WHERE origin = $1 AND seq = $2", origin, seq)
    return tamper


def _sql(statement: str, *args: Any) -> Tamper:
    def tamper(conn: asyncpg.Connection) -> Awaitable[object]:
        return conn.execute(statement, *args)
    return tamper


async def _rewrite_head_consistently(conn: asyncpg.Connection) -> None:
    """What a careful intruder does: rewrite the peer's newest entry with its data_hash and
    hash recomputed, so the chain itself still verifies; only the checkpoint can tell."""
    row = await conn.fetchrow("SELECT * FROM change_log WHERE origin = $1 ORDER BY seq DESC"
                              " LIMIT 1", PEER)
    assert row is not None
    data = {**json.loads(row["data"]), "name": "改写的名称"}
    new_data_hash = data_hash(data)
    new_hash = entry_hash(prev=row["prev"], seq=row["seq"], origin=PEER, type=row["type"],
                          id=row["record_id"], op=row["op"], data_hash=new_data_hash)
    await conn.execute("UPDATE change_log SET data = $3, data_hash = $4, hash = $5"
                       " WHERE origin = $1 AND seq = $2", PEER, row["seq"],
                       json.dumps(data, ensure_ascii=False, sort_keys=True,
                                  separators=(",", ":")), new_data_hash, new_hash)


async def test_a_good_database_verifies(conn: asyncpg.Connection) -> None:
    report = await verify_node(conn, OWN)
    assert report.ok, report.breaks
    assert set(report.chains) == {OWN, PEER}
    own_head = await conn.fetchval("SELECT max(seq) FROM change_log WHERE origin = $1", OWN)
    assert report.chains[OWN].entries == report.chains[OWN].head_seq == own_head
    assert report.chains[PEER].entries > 0
    assert report.checkpoints_verified == 1


@pytest.mark.parametrize(("tamper", "where", "reason"), [
    (_rewrite_data(OWN, 2), OWN, "data does not hash to data_hash"),
    (_rewrite_data(PEER, 2), PEER, "data does not hash to data_hash"),
    (_sql("UPDATE change_log SET data = NULL WHERE origin = $1 AND seq = 1", OWN), OWN,
     "the node's own upsert has no data"),
    (_sql("UPDATE change_log SET data = 'not json' WHERE origin = $1 AND seq = 1", OWN), OWN,
     "data is not JSON"),
    (_sql("UPDATE change_log SET prev = repeat('1', 64) WHERE origin = $1 AND seq = 3", OWN),
     OWN, "prev does not link to the previous change's hash"),
    (_sql("UPDATE change_log SET hash = repeat('2', 64) WHERE origin = $1 AND seq = 1", PEER),
     PEER, "hash does not match the change"),
    (_sql("DELETE FROM change_log WHERE origin = $1 AND seq = 2", OWN), OWN,
     "expected seq 2, got 3"),
    (_sql("UPDATE change_log SET type = 'member_key' WHERE origin = $1 AND seq = 1", OWN), OWN,
     "hash does not match the change"),
    (_sql("UPDATE sync_state SET checkpoint = jsonb_set(checkpoint, '{at}', '\"2020-01-01\"')"
          " WHERE peer = $1", PEER), f"checkpoint of {PEER}",
     f"checkpoint signature of {PEER} does not verify under its pinned keys"),
    (_rewrite_head_consistently, f"checkpoint of {PEER}",
     "the stored checkpoint differs from the chain held"),
])
async def test_each_tampering_is_a_break(
    conn: asyncpg.Connection, tamper: Tamper, where: str, reason: str,
) -> None:
    report = await _verified_after(conn, tamper)
    assert not report.ok
    assert [(b.origin, b.reason) for b in report.breaks] == [(where, reason)]


def _registry_verify(dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn}
    return subprocess.run([sys.executable, "-m", "api.cli", "verify"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


async def test_the_command_exits_non_zero_on_a_break(
    conn: asyncpg.Connection, held: str,
) -> None:
    good = _registry_verify(held)
    assert good.returncode == 0, good.stderr
    summary = json.loads(good.stdout)
    assert summary["ok"] is True
    assert summary["checkpoints_verified"] == 1
    kept = await conn.fetchval("SELECT data FROM change_log WHERE origin = $1 AND seq = 1", OWN)
    await _rewrite_data(OWN, 1)(conn)
    try:
        bad = _registry_verify(held)
    finally:
        await conn.execute("UPDATE change_log SET data = $2 WHERE origin = $1 AND seq = 1",
                           OWN, kept)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["breaks"] == [
        {"origin": OWN, "seq": 1, "reason": "data does not hash to data_hash"}]
    assert "BREAK in node-own at seq 1" in bad.stderr
