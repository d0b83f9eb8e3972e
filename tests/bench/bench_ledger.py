"""The contact ledger under load, served as the README serves it (`registry serve
--workers 2`): call-report ingest beside PostgreSQL's own COPY of as many rows into the same
table in the same run; signed allowances beside signed single traces of the same server at
32 connections; the allowance's lookup time as the ledger grows; bytes per counter.

    .venv/bin/python -m tests.bench.bench_ledger [--numbers 1000000] [--rows 10000000]
        [--batches 20] [--seconds 10] [--runs 3]

Loads the numbers as tests/bench/bench_trace.py does, then the ledger's rows by COPY in
steps (timing the allowance's statement at each size), starts the node and drives it:
ingest with two clients posting batches of 10,000 calls, lookups with wrk and single-use
pre-signed tokens (for allowances each with its own body: a token binds its body).
"""
# Random numbers here only make load, never secrets.
# ruff: noqa: S311

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import random
import secrets
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
import msgspec

from registry import db
from registry.ledger import rules, store
from registry.ledger.memory import LedgerMemory
from registry.ledger.model import ContactReport
from registry.ledger.store import REPORT
from tests.bench.bench_index import member_id, number
from tests.bench.bench_trace import (
    ADMIN,
    Measured,
    _admin,
    load,
    ok_rate,
    rss_of,
    serve_ready,
    workers_of,
    write_tokens,
    wrk_signed,
)
from tests.support.database import with_database
from tests.support.signing import Signer

BATCH = 10_000
COPY_CHUNK = 200_000
STEPS = (10_000, 1_000_000, 10_000_000)  # the lookup is timed at each size loaded
CONTACT_COLUMNS = ["callee_hash", "started_at", "caller", "hash_version", "duration_s",
                   "channel", "principals", "origin", "reporter_id"]



def debtor_hash(n: int) -> bytes:
    return hashlib.blake2b(n.to_bytes(8, "little"), digest_size=16).digest()


def lender_of(n: int) -> str:
    """The lender (principal) of bench number n: bench_index's world, batch by batch."""
    batch = n // 1000
    return member_id(100 + batch % 1000) if batch % 2 == 0 else member_id(
        100 + (1100 + batch % 3900) % 1000)


def ledger_rows(start: int, stop: int, numbers: int, today: date
                ) -> Iterator[list[tuple[object, ...]]]:
    """Rows n in [start, stop): one call each over the 180 days before today, each to a
    debtor of its own (the index's worst case: no two calls share a key prefix)."""
    base = datetime.combine(today, datetime.min.time(), UTC) - timedelta(days=180)
    rng = random.Random(start)
    calls: list[tuple[object, ...]] = []
    for n in range(start, stop):
        caller = rng.randrange(numbers)
        at = base + timedelta(seconds=rng.randrange(180 * 86400))
        calls.append((debtor_hash(n), at, number(caller), 1, rng.choice((0, 4, 30, 90)),
                      "voice", [lender_of(caller)], "node-bench", member_id(0)))
        if len(calls) == COPY_CHUNK:
            yield calls
            calls = []
    if calls:
        yield calls


async def copy_rows(conn: asyncpg.Connection, start: int, stop: int, numbers: int,
                    today: date) -> float:
    """COPY rows [start, stop) into the ledger; returns the seconds COPY took."""
    spent = 0.0
    for calls in ledger_rows(start, stop, numbers, today):
        began = time.perf_counter()
        await conn.copy_records_to_table("contacts", records=calls, columns=CONTACT_COLUMNS)
        spent += time.perf_counter() - began
    return spent


async def probe_lookups(conn: asyncpg.Connection, tries: int = 1000) -> float:
    """Median µs of the allowance's PostgreSQL path (a day before yesterday) for debtors
    that have calls: registry.ledger.store.standing, as a worker runs it."""
    sample = await conn.fetch(
        "SELECT callee_hash, extract(epoch FROM started_at)::bigint AS at, principals"
        " FROM contacts TABLESAMPLE SYSTEM (1) LIMIT $1", tries)
    times = []
    for row in sample:
        began = time.perf_counter()
        counts, _ = await store.standing(conn, [row["callee_hash"]], row["principals"],
                                         row["at"])
        times.append(time.perf_counter() - began)
        assert counts, "a sampled call was not counted"
    return statistics.median(times) * 1e6


def memory_figures(sizes: tuple[int, ...] = (10_000, 1_000_000)) -> list[str]:
    """The allowance's memory path: bytes per debtor-day counter and lookup time, by size."""
    lines = []
    now = int(time.time())
    for size in sizes:
        gc.collect()
        tracemalloc.start()
        held = LedgerMemory(now)
        for chunk in range(0, size, BATCH):
            n = min(BATCH, size - chunk)
            report = ContactReport(
                reporter_id=member_id(0), hash_version=1,
                callers=[number(0)] * n,
                callee_hashes=[debtor_hash(chunk + i).hex() for i in range(n)],
                started_at=[now - (i % 80_000) for i in range(n)], durations=[30] * n,
                channels=["voice"] * n, principals=[i % 1000 for i in range(n)],
                principal_sets=[member_id(100 + p) for p in range(1000)])
            held.apply(REPORT, f"cr_{chunk}", msgspec.json.encode(report).decode(), None)
        used = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        probes = [([debtor_hash(i)], [member_id(100 + i % 1000)], now - (i % 80_000))
                  for i in random.choices(range(size), k=20_000)]
        began = time.perf_counter()
        for hashes, principals, at in probes:
            held.standing(hashes, principals, at)
        took = (time.perf_counter() - began) / len(probes) * 1e6
        lines.append(f"  memory path, {len(held):>10,} counters: {used / len(held):5.0f} bytes"
                     f" per debtor-day counter, lookup {took:.1f} µs")
        print(lines[-1], flush=True)
        del held
    return lines


def report_bodies(batches: int, numbers: int, seed: int) -> list[bytes]:
    """Batches of calls made today, up to now, to fresh debtors, from registered numbers."""
    now = int(time.time())
    today_start = rules.day_of(now)
    start = int(datetime.combine(today_start, datetime.min.time(), UTC).timestamp()) - 8 * 3600
    rng = random.Random(seed)
    bodies = []
    for _ in range(batches):
        items = [{"caller": number(rng.randrange(numbers)),
                  "callee": f"+86139{rng.randrange(10**8):08d}",
                  "started_at": datetime.fromtimestamp(rng.randrange(start, now), UTC
                                                       ).isoformat(),
                  "duration_s": rng.choice((0, 4, 30, 90)), "channel": "voice"}
                 for _ in range(BATCH)]
        bodies.append(msgspec.json.encode({"items": items}))
    return bodies


async def ingest(base: str, signer: Signer, bodies: list[bytes], clients: int = 2) -> float:
    """Calls a second taken in by `clients` posting batches at once."""
    queue = list(bodies)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=300) as http:
            while queue:
                body = queue.pop()
                answer = await http.post("/v1/contacts", content=body, headers={
                    "Authorization": "Bearer " + signer.token("POST", "/v1/contacts", body),
                    "Content-Type": "application/json"})
                if answer.status_code != 200:
                    raise RuntimeError(answer.text[:500])

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(bodies) * BATCH / (time.perf_counter() - began)


def write_allowance_lines(path: Path, signer: Signer, numbers: int, count: int, threads: int,
                          rows: int) -> None:
    """Allowance requests for debtors with and without calls, each with its own token."""
    files = [open(f"{path}.{t}", "w") for t in range(threads)]  # noqa: SIM115
    rng = random.Random(count)
    try:
        for n in range(count):
            body = msgspec.json.encode({"caller": number(rng.randrange(numbers)),
                                        "callee": f"+86139{rng.randrange(10**8):08d}"})
            claims = signer.claims("POST", "/v1/contacts/allowance", body)
            claims["exp"] = claims["iat"] + 300
            files[n % threads].write(f"/v1/contacts/allowance\t{signer.sign(claims)}\t"
                                     f"{body.decode()}\n")
    finally:
        for f in files:
            f.close()


async def load_ledger(dsn: str, rows: int, numbers: int, today: date) -> list[str]:
    """The ledger's rows by COPY, in steps; the PostgreSQL path's median time at each size."""
    conn = await db.connect(dsn)
    lines = []
    try:
        await conn.execute("SET synchronous_commit = off")
        done = 0
        for step in [s for s in STEPS if s < rows] + [rows]:
            began = time.perf_counter()
            await copy_rows(conn, done, step, numbers, today)
            await conn.execute("ANALYZE contacts")
            loaded = time.perf_counter() - began
            done = step
            lookup = await probe_lookups(conn)
            lines.append(f"  PostgreSQL path, {done:>12,} held calls: median {lookup:6.0f} µs"
                         f" (the step loaded in {loaded:.0f} s)")
            print(lines[-1], flush=True)
        per_call = await conn.fetchval(
            "SELECT pg_total_relation_size('contacts')::float8"
            " / greatest(1, (SELECT count(*) FROM contacts))")
        lines.append(f"  bytes per held call in PostgreSQL (heap and indexes): {per_call:.0f}")
        print(lines[-1], flush=True)
    finally:
        await conn.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batches", type=int, default=20, help="ingest batches per run")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=18432)
    args = parser.parse_args()
    name = f"bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = with_database(ADMIN, name)
    signer = Signer.new_ed25519(member_id(0), "node-bench")  # a carrier
    workdir = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    process: subprocess.Popen[bytes] | None = None
    today = rules.day_of(int(time.time()))
    try:
        began = time.perf_counter()
        asyncio.run(load(dsn, args.numbers, signer))
        print(f"loaded {args.numbers:,} numbers in {time.perf_counter() - began:.0f} s",
              flush=True)
        print("the ledger, loaded by COPY in steps:")
        summary = asyncio.run(load_ledger(dsn, args.rows, args.numbers, today))
        summary += memory_figures()

        process, base = serve_ready(dsn, args.port, workdir)
        workers = [p for p in workers_of(process.pid) if rss_of(p) > 50_000_000]
        m = Measured(workers, args.seconds)
        ingested, copied = [], []
        next_row = args.rows
        for run in range(args.runs):
            bodies = report_bodies(args.batches, args.numbers, run)
            ingested.append(asyncio.run(ingest(base, signer, bodies)))
            count = args.batches * BATCH

            async def copy_same(start: int = next_row, count: int = count) -> float:
                conn = await asyncpg.connect(dsn)
                try:
                    return count / await copy_rows(conn, start, start + count, args.numbers,
                                                   today)
                finally:
                    await conn.close()

            copied.append(asyncio.run(copy_same()))
            next_row += count
            allow = workdir / f"allow{run}"
            write_allowance_lines(allow, signer, args.numbers, 12000 * args.seconds, 2,
                                  args.rows)
            m.run("allowance", lambda allow=allow: wrk_signed(base, args.seconds, 32, "POST",
                                                              allow))
            traces = workdir / f"trace{run}"
            write_tokens(traces, signer, "GET", [
                f"/v1/trace/{quote(number(n), safe='')}"
                for n in random.choices(range(args.numbers), k=12000 * args.seconds)], b"", 2)
            m.run("trace", lambda traces=traces: wrk_signed(base, args.seconds, 32, "GET",
                                                            traces))
            last = {k: v[-1][0] for k, v in m.results.items()}
            print(f"run {run + 1}: ingest {ingested[-1]:,.0f} calls/s, COPY {copied[-1]:,.0f}"
                  f" rows/s ({ingested[-1] / copied[-1]:.2f} x); allowance "
                  f"{ok_rate(last['allowance'], args.seconds):,.0f}/s p99 "
                  f"{last['allowance'].p99_ms:.1f} ms (non-2xx {last['allowance'].non_2xx}),"
                  f" trace {ok_rate(last['trace'], args.seconds):,.0f}/s p99 "
                  f"{last['trace'].p99_ms:.1f} ms", flush=True)
        ratios = [i / c for i, c in zip(ingested, copied, strict=True)]
        a, t = m.rate("allowance"), m.rate("trace")
        print(f"\nmedians of {args.runs} runs ({args.numbers:,} numbers, {args.rows:,} ledger "
              "rows; 2 workers; 2 cores shared with the clients, PostgreSQL and others):")
        print(f"  ingest POST /v1/contacts  {statistics.median(ingested):10,.0f} calls/s; COPY "
              f"{statistics.median(copied):,.0f} rows/s; ratio {statistics.median(ratios):.2f}"
              " (target >= 0.25)")
        print(f"  signed allowance          {a:10,.0f} req/s, p99 {m.p99('allowance'):.1f} ms"
              " (target < 20)")
        print(f"  signed GET /v1/trace      {t:10,.0f} req/s, p99 {m.p99('trace'):.1f} ms;"
              f" allowance = {a / t:.2f} x trace (target >= 0.8)")
        for line in summary:
            print(line)
    finally:
        if process is not None:
            process.terminate()
            process.wait(20)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if os.environ.get("BENCH_KEEP") is None:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
