"""The verifiable log's costs (issue 15's targets), each measured in one run:

1. inclusion proofs in process at 100,000 and at 10,000,000 entries (target < 1 ms each),
   through the very Tree and tile cache the node uses, with its rows held in memory;
2. a write's cost with and without bringing the tree up to date after it (target < 10 %
   more; the node brings it up lazily, so a write itself pays nothing);
3. signed POST /v1/trace/receipt against signed GET /v1/trace of the same number on the
   same `registry serve --workers 2` (target >= 0.5x).

    .venv/bin/python -m tests.bench.bench_tlog [--entries 10000000] [--numbers 100000]
        [--seconds 10] [--runs 3] [--skip-served] [--skip-proofs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
import msgspec

from registry import changelog
from registry.migrate import migrate
from registry_client import merkle
from sync.tlog_store import TILE_WIDTH, TileCache, Tree, extend, subtree_root
from tests.bench.bench_index import member_id, number
from tests.bench.bench_trace import (
    ADMIN,
    _admin,
    load,
    median_of,
    serve,
    write_tokens,
    wrk_signed,
)
from tests.support.database import with_database
from tests.support.signing import Signer


def memory_tree(entries: int) -> Tree:
    """A tree of `entries` random leaves whose tiles come from memory."""
    leaves = [merkle.leaf_hash(os.urandom(32)) for _ in range(entries)]
    levels = [leaves]
    while len(levels[-1]) >= TILE_WIDTH:
        below = levels[-1]
        levels.append([subtree_root(below[i:i + TILE_WIDTH])
                       for i in range(0, len(below) - TILE_WIDTH + 1, TILE_WIDTH)])

    async def rows(level: int, index: int, width: int) -> list[bytes]:
        start = index * TILE_WIDTH
        return levels[level][start:start + width]

    return Tree("bench", entries, rows, TileCache())


async def proofs_per_second(tree: Tree, count: int) -> float:
    rnd = random.Random(7)  # noqa: S311 (reproducible picks)
    picks = [rnd.randrange(tree.size) for _ in range(count)]
    started = time.process_time()
    for index in picks:
        await tree.inclusion(index)
    return count / (time.process_time() - started)


async def proof_figures(sizes: list[int], runs: int) -> None:
    for size in sizes:
        started = time.perf_counter()
        tree = memory_tree(size)
        built = time.perf_counter() - started
        rates = [await proofs_per_second(tree, 2000) for _ in range(runs)]
        rate = statistics.median(rates)
        print(f"  {size:>12,} entries: {rate:9,.0f} inclusion proofs/s = "
              f"{1e6 / rate:6.1f} µs each (median of {runs} runs of 2,000 random leaves, "
              f"one core; tree built in {built:.0f} s)", flush=True)


async def write_cost(dsn: str, writes: int) -> None:
    """One change per transaction, as a write appends it; then the same with `extend`."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO node_identity (node_id) VALUES ('node-bench')")

        async def one(with_tree: bool) -> float:
            started = time.perf_counter()
            for n in range(writes):
                async with conn.transaction():
                    await changelog.append(
                        conn, [changelog.Change("bench", f"w{n}", "upsert", {"n": n})])
                if with_tree:
                    await extend(conn, "node-bench")
            return (time.perf_counter() - started) / writes

        plain, tree = [], []
        for _ in range(3):
            plain.append(await one(False))
            tree.append(await one(True))
        p, t = statistics.median(plain), statistics.median(tree)
        print(f"  a logged write: {p * 1e3:.2f} ms; with the tree brought up to date after "
              f"each: {t * 1e3:.2f} ms = +{(t / p - 1) * 100:.0f} % (median of 3 runs of "
              f"{writes}); the node itself brings the tree up lazily, on read", flush=True)
    finally:
        await conn.close()


def get_target(value: str, at: str) -> str:
    return f"/v1/trace/{quote(value, safe='')}?at={quote(at, safe='')}"


def _latency(base: str, signer: Signer, method: str, target: str, body: bytes = b"") -> float:
    times = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(50):
            headers = {"Authorization": "Bearer " + signer.token(method, target, body),
                       "Content-Type": "application/json"}
            started = time.perf_counter()
            answer = http.request(method, target, content=body, headers=headers)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
    return statistics.median(times) * 1000


def served_figures(dsn: str, numbers: int, seconds: int, runs: int, workdir: Path) -> None:
    signer = Signer.new_ed25519(member_id(0), "node-bench")
    asyncio.run(load(dsn, numbers, signer))
    process, log = serve(dsn, 18432, workdir)
    try:
        while log.read_text(errors="replace").count("trace_index_built") < 2:
            if process.poll() is not None:
                raise RuntimeError(log.read_text(errors="replace")[-2000:])
            time.sleep(0.5)
        base = "http://127.0.0.1:18432"
        value = number(numbers // 2 + 1)
        at = "2026-11-28T09:30:00+08:00"
        body = msgspec.json.encode({"value": value, "at": at})
        probe = httpx.post(base + "/v1/trace/receipt", content=body, headers={
            "Authorization": "Bearer " + signer.token("POST", "/v1/trace/receipt", body),
            "Content-Type": "application/json"}, timeout=60)
        assert probe.status_code == 200, probe.text
        assert probe.json()["traceable"], probe.text
        one = _latency(base, signer, "GET", get_target(value, at))
        single = _latency(base, signer, "POST", "/v1/trace/receipt", body)
        print(f"  one at a time: signed trace {one:.1f} ms, receipt {single:.1f} ms"
              " (medians of 50 sequential requests)", flush=True)
        body_file = workdir / "receipt.json"
        body_file.write_bytes(body)
        target = get_target(value, at)
        traces, receipts, p99s = [], [], []
        for run in range(runs):
            get, post = workdir / f"get{run}", workdir / f"post{run}"
            write_tokens(get, signer, "GET", [target] * (12000 * seconds), b"", 2)
            write_tokens(post, signer, "POST", ["/v1/trace/receipt"] * (8000 * seconds),
                         body, 2)
            traced = wrk_signed(base, seconds, 32, "GET", get)
            proven = wrk_signed(base, seconds, 32, "POST", post, body_file)
            traces.append((traced.requests - traced.non_2xx) / seconds)
            receipts.append((proven.requests - proven.non_2xx) / seconds)
            p99s.append(proven.p99_ms)
            print(f"  run {run + 1}: signed trace {traces[-1]:,.0f}/s, receipt "
                  f"{receipts[-1]:,.0f}/s (p99 {proven.p99_ms:.1f} ms, non-2xx "
                  f"{proven.non_2xx})", flush=True)
        t, r = median_of(traces), median_of(receipts)
        print(f"  medians: signed trace {t:,.0f}/s, receipt {r:,.0f}/s = {r / t:.2f} x "
              f"(target >= 0.5); receipt p99 {median_of(p99s):.1f} ms", flush=True)
    finally:
        process.terminate()
        process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-served", action="store_true")
    parser.add_argument("--skip-proofs", action="store_true")
    args = parser.parse_args()
    if not args.skip_proofs:
        print("inclusion proofs in process:", flush=True)
        asyncio.run(proof_figures([100_000, args.entries], args.runs))
    name = f"bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = with_database(ADMIN, name)
    workdir = Path(tempfile.mkdtemp(prefix="bench-tlog-"))
    try:
        print("the tree's cost to a write:", flush=True)
        asyncio.run(write_cost(dsn, 500))
        if not args.skip_served:
            asyncio.run(_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            print(f"receipts against traces ({args.numbers:,} numbers, 2 workers):",
                  flush=True)
            served_figures(dsn, args.numbers, args.seconds, args.runs, workdir)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
