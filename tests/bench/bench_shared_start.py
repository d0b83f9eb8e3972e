"""A node's start on PostgreSQL, to its first answer: the first start (one worker's child
builds the snapshot from the change log under the lock while the other worker waits) and a
restart (each worker maps the snapshot, primes the contact ledger and catches up the
entries logged since), with two workers, as `registry serve` runs.

    .venv/bin/python -m tests.bench.bench_shared_start --numbers 100000

The change log of tests/bench/bench_index.py's world (origin `bench`) is copied into a
fresh database; DELTA more supplies are logged between the two starts. "First answer" is
the wall time from starting `registry serve` to the first public check that finds a
registered number; each worker's own time (its lifespan: snapshot, ledger, catch-up) is
read from its `trace_index_built` log line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from registry.canonical import canonical, sha256_hex
from registry.resources.model import confirmation_id
from tests.bench.bench_index import number, world
from tests.support.database import TemplateDatabases, postgres_server
from tests.support.served import served_registry

CHUNK = 500_000
DELTA = 10_000  # numbers supplied and confirmed between the starts: twice as many entries
_COLUMNS = ("origin", "seq", "type", "record_id", "op", "data", "data_hash", "prev", "hash")


def rows(entries: Iterator[tuple[str, int, str, str, dict[str, Any] | None]]
         ) -> Iterator[tuple[Any, ...]]:
    """Change-log rows as the stores log them (the chain's hashes are not checked here)."""
    for origin, seq, type, record_id, data in entries:
        text = canonical(data)
        yield (origin, seq, type, record_id, "upsert", text.decode(), sha256_hex(text),
               "0" * 64, "0" * 64)


def later_supplies(numbers: int, after: int) -> Iterator[tuple[str, int, str, str,
                                                                 dict[str, Any] | None]]:
    """DELTA traceable numbers more, supplied to a lender (its own principal) and confirmed."""
    lender, seq = f"m_{100:032x}", after
    for n in range(DELTA):
        rid, value = f"r_late{n}", number(numbers + 20_000 + n)
        yield ("bench", seq + 1, "resource", rid, {
            "kind": "voice", "value": value, "supplier_id": "m_" + "0" * 32,
            "assignee_id": lender, "valid_from": "2026-01-01T00:00:00+08:00",
            "valid_to": None})
        yield ("bench", seq + 2, "resource_confirmation", confirmation_id(rid, lender), {
            "resource_id": rid, "kind": "voice", "value": value, "member_id": lender})
        seq += 2


def start(workdir: Path, dsn: str, data: Path, probe: str) -> tuple[float, list[float]]:
    """Seconds from `registry serve` to its first answer, and each worker's own seconds."""
    workdir.mkdir()
    started = time.perf_counter()
    with served_registry(workdir, database_url=dsn, node_id="node-bench", workers=2,
                         data_dir=data, ready_within=3600,
                         env={"REGISTRY_TRACE_SNAPSHOT_MIN_ENTRIES": "0"}) as node:
        while True:
            answer = httpx.get(f"{node.base}/v1/public/check/{probe}", timeout=30)
            if answer.status_code == 200 and answer.json()["registered"]:
                break
            assert time.perf_counter() - started < 600, answer.text
            time.sleep(0.05)
        first = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while node.log.read_text(errors="replace").count("trace_index_built") < 2:
            assert time.monotonic() < deadline, "a worker never started"
            time.sleep(0.2)
    workers = [json.loads(line)["seconds"] for line in node.log.read_text().splitlines()
               if '"trace_index_built"' in line]
    return first, workers


async def fill(dsn: str, numbers: int) -> int:
    """The world's change log, copied in chunks: at ten million numbers its 28 million
    rows would not fit in memory at once."""
    conn = await asyncpg.connect(dsn)
    made = 0
    try:
        made_rows = rows(world(numbers))
        while chunk := list(itertools.islice(made_rows, CHUNK)):
            await conn.copy_records_to_table("change_log", records=chunk, columns=_COLUMNS)
            made += len(chunk)
        return made
    finally:
        await conn.close()


async def add_later(dsn: str, numbers: int, after: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("change_log", columns=_COLUMNS,
                                         records=list(rows(later_supplies(numbers, after))))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=100_000)
    args = parser.parse_args()
    with postgres_server() as admin, tempfile.TemporaryDirectory() as tmp:
        databases = TemplateDatabases(admin)
        asyncio.run(databases.create_template())
        try:
            dsn = asyncio.run(databases.clone())
            entries = asyncio.run(fill(dsn, args.numbers))
            print(f"{args.numbers:,} numbers: {entries:,} change-log entries")
            data = Path(tmp) / "data"
            first, workers = start(Path(tmp) / "first", dsn, data, number(args.numbers // 2))
            size = (data / "trace-index.snapshot").stat().st_size
            print(f"first start (snapshot built, {size / 1e6:.0f} MB): first answer {first:.1f} s "
                  f"after `registry serve`; workers ready in "
                  f"{', '.join(f'{s:.2f}' for s in workers)} s")
            asyncio.run(add_later(dsn, args.numbers, entries))
            late = number(args.numbers + 20_000 + DELTA - 1)
            again, workers = start(Path(tmp) / "again", dsn, data, late)
            print(f"restart ({2 * DELTA:,} entries after the snapshot): first answer {again:.1f} s "
                  f"after `registry serve`; workers ready in "
                  f"{', '.join(f'{s:.2f}' for s in workers)} s")
        finally:
            asyncio.run(databases.drop_all())


if __name__ == "__main__":
    main()
