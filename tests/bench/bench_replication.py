"""Replicating N changes node to node, beside COPY of the same rows (issue 5).

    .venv/bin/python -m tests.bench.bench_replication [--changes 1000000] [--page 10000]

A source node (`registry serve`, one worker, its own database) holds N resource changes
in its log. The destination's puller code (sync.puller.pull_once: signed fetch, full
verification, one transaction per page storing the chain and applying the records)
pulls them all over loopback HTTP. In the same run the very rows the destination then
holds (its change_log rows, and its resource rows) are COPYed into a third, empty
database with the same schema. Prints changes/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.canonical import canonical
from registry.changelog import GENESIS, Change, chain
from registry.db import connect, create_pool
from registry.migrate import migrate
from registry.signing_keys import public_jwk_of
from sync.client import fetch_node_info
from sync.peers import add_peer, get_peer
from sync.puller import NodeIdentity, pull_until_caught_up
from tests.bench.loadgen import served_node
from tests.support.database import postgres_server, with_database

SRC, DST = "node-src", "node-dst"
CHUNK = 50_000
_COLUMNS = ["origin", "seq", "type", "record_id", "op", "data", "data_hash", "prev", "hash"]


async def _fresh(admin_dsn: str, node_id: str | None) -> str:
    name = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(admin_dsn, name)
    conn = await connect(dsn)
    await migrate(conn)
    if node_id:
        await conn.execute("INSERT INTO node_identity (node_id) VALUES ($1)", node_id)
    await conn.close()
    return dsn


def resource(i: int) -> dict[str, Any]:
    """A resource record as the source logs one: a voice number supplied to an agency."""
    return {
        "id": f"r_{i:012d}", "origin": SRC, "kind": "voice", "value": f"+86139{i:08d}",
        "supplier_id": "m_carrier0001", "assignee_id": f"m_agency{i % 500:04d}",
        "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": None,
        "created_at": "2026-11-28T09:30:00+08:00",
    }


async def _fill_source(dsn: str, n: int) -> None:
    conn = await connect(dsn)
    seq, link = 0, GENESIS
    for start in range(0, n, CHUNK):
        changes = [Change("resource", f"r_{i:012d}", "upsert", resource(i))
                   for i in range(start, min(n, start + CHUNK))]
        entries = chain(SRC, seq, link, changes)
        await conn.copy_records_to_table("change_log", columns=_COLUMNS, records=[
            (e.origin, e.seq, e.type, e.id, e.op, canonical(e.data).decode(), e.data_hash,
             e.prev, e.hash) for e in entries])
        seq, link = entries[-1].seq, entries[-1].hash
    await conn.execute("ANALYZE change_log")
    await conn.close()


async def _replicate(src_url: str, dst_dsn: str, src_dsn: str, n: int, page: int,
                     dst_key: Ed25519PrivateKey) -> float:
    conn = await connect(dst_dsn)
    info = await fetch_node_info(src_url)
    await add_peer(conn, SRC, src_url, info.keys, ["resource"])
    peer = await get_peer(conn, SRC)
    await conn.close()
    pool = await create_pool(dst_dsn, 2, 4)
    me = NodeIdentity(DST, dst_key, public_jwk_of(dst_key)["kid"])
    applied = 0
    async with httpx.AsyncClient(timeout=120) as http:
        started = time.perf_counter()
        while applied < n:
            applied += await pull_until_caught_up(pool, me, peer, http, page)
        elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


async def _copy_baseline(admin_dsn: str, dst_dsn: str, tables: list[str]) -> tuple[float, int]:
    """COPY the rows the destination now holds into an empty database; seconds and rows."""
    target = await _fresh(admin_dsn, DST)
    total, rows = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for table in tables:
            dump = Path(tmp) / f"{table}.bin"
            source = await asyncpg.connect(dst_dsn)
            if table == "change_log":
                query = f"SELECT {', '.join(_COLUMNS)} FROM change_log WHERE origin = '{SRC}'"
                columns = _COLUMNS
            else:
                cols = [r["attname"] for r in await source.fetch(
                    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass"
                    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum", table)]
                query, columns = f"SELECT {', '.join(cols)} FROM {table}", cols
            await source.copy_from_query(query, output=dump, format="binary")
            count = await source.fetchval(f"SELECT count(*) FROM ({query}) q")
            await source.close()
            conn = await asyncpg.connect(target)
            started = time.perf_counter()
            await conn.copy_to_table(table, source=dump, columns=columns, format="binary")
            total += time.perf_counter() - started
            rows = max(rows, count)
            await conn.close()
    return total, rows


async def run(admin_dsn: str, n: int, page: int) -> None:
    if True:
        src_dsn = await _fresh(admin_dsn, SRC)
        dst_dsn = await _fresh(admin_dsn, DST)
        started = time.perf_counter()
        await _fill_source(src_dsn, n)
        print(f"source log of {n} changes written in {time.perf_counter() - started:.1f} s")
        dst_key = Ed25519PrivateKey.generate()
        conn = await connect(src_dsn)
        await add_peer(conn, DST, "http://unused.invalid", [public_jwk_of(dst_key)],
                       ["resource"])
        await conn.close()
        with served_node(src_dsn, workers=1, node_id=SRC) as src_url:
            seconds = await _replicate(src_url, dst_dsn, src_dsn, n, page, dst_key)
        conn = await connect(dst_dsn)
        held = await conn.fetchval("SELECT count(*) FROM change_log WHERE origin = $1", SRC)
        records = await conn.fetchval("SELECT count(*) FROM resources") if await conn.fetchval(
            "SELECT to_regclass('resources') IS NOT NULL") else 0
        await conn.close()
        assert held == n, held
        rate = n / seconds
        print(f"replication: {n} changes in {seconds:.1f} s = {rate:,.0f} changes/s "
              f"(page {page}; {records} resource rows applied)")
        tables = ["change_log", *(["resources"] if records else [])]
        copy_log, _ = await _copy_baseline(admin_dsn, dst_dsn, ["change_log"])
        print(f"COPY change_log rows: {n / copy_log:,.0f} rows/s "
              f"-> ratio {rate / (n / copy_log):.2f}")
        if records:
            copy_all, _ = await _copy_baseline(admin_dsn, dst_dsn, tables)
            print(f"COPY change_log + resources rows: {n / copy_all:,.0f} changes/s "
                  f"-> ratio {rate / (n / copy_all):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=10_000)
    args = parser.parse_args()
    with postgres_server() as admin_dsn:
        asyncio.run(run(admin_dsn, args.changes, args.page))


if __name__ == "__main__":
    main()
