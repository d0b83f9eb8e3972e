"""The shared trace index (a snapshot every worker maps): snapshot build time, time from a
worker's start to its first answer, lookups per second on one core, and the memory of the
first and of an added worker.

    taskset -c 1 nice -n 10 .venv/bin/python -m tests.bench.bench_shared_index --numbers 100000
    taskset -c 1 nice -n 10 .venv/bin/python -m tests.bench.bench_shared_index --numbers 10000000

The change log is tests/bench/bench_index.py's (half the numbers used by lenders, half by
agencies under filed entrustments, 10,000 blocks). The parent builds the index from it
and writes the snapshot, as a node's builder does; then two worker processes start one
after the other, each mapping the snapshot, checking its digest, applying DELTA entries
made after it (what a worker catches up on; from memory here, where a node reads them from
PostgreSQL) and answering. Each reports its resident set and how much of it is its own
(`Private_*` of /proc/self/smaps_rollup: the mapped snapshot's pages are shared), while the
first is still running. Rates are process CPU time, so other load on the machine does not
lower them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from registry.trace import snapshot
from registry.trace.index import TraceIndex
from tests.bench.bench_index import AT, number, rss, world

DELTA = 10_000  # entries made after the snapshot, applied by each worker at start


def memory() -> dict[str, int]:
    """Resident, proportional and private bytes of this process (smaps_rollup, in kB)."""
    fields: dict[str, int] = {}
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "private": fields["Private_Clean"] + fields["Private_Dirty"]}


def delta(numbers: int) -> list[tuple[str, int, str, str, dict[str, Any] | None]]:
    """DELTA entries after the snapshot: new supplies of numbers past the last one."""
    seq = 10**12  # past every seq of the snapshot
    entries: list[tuple[str, int, str, str, dict[str, Any] | None]] = []
    for n in range(numbers + 20_000, numbers + 20_000 + DELTA):
        seq += 1
        entries.append(("bench", seq, "resource", f"r_d{n}", {
            "kind": "voice", "value": number(n), "supplier_id": "m_" + "0" * 32,
            "assignee_id": f"m_{100:032x}", "valid_from": "2026-01-01T00:00:00+08:00",
            "valid_to": None}))
    return entries


def rate(check: Any, values: list[str], runs: int) -> float:
    rates = []
    for _ in range(runs):
        started = time.process_time()
        for value in values:
            check(value, AT)
        rates.append(len(values) / (time.process_time() - started))
    return statistics.median(rates)


def read_ns(cells: Any, at: list[int], runs: int) -> float:
    """Nanoseconds per read of one cell of a table, at the given cells (median of runs)."""
    times = []
    for _ in range(runs):
        started = time.process_time()
        for cell in at:
            cells[cell]
        times.append((time.process_time() - started) / len(at) * 1e9)
    return statistics.median(times)


def memory_reads(cells: Any, runs: int) -> dict[str, float]:
    """What one read of the numbers table costs where it is in the cache and where it is
    not: at ten million numbers a lookup makes one read at a random place of a table of
    hundreds of MB (a DRAM access), at a hundred thousand one of 2 MB (in the cache)."""
    rng = random.Random(11)  # noqa: S311 - reproducible reads
    spread = [rng.randrange(0, len(cells), 2) for _ in range(200_000)]
    near = [cell % 8192 for cell in spread]  # 64 KiB: the cache
    return {"random_read_ns": read_ns(cells, spread, runs),
            "cached_read_ns": read_ns(cells, near, runs)}


def worker(path: Path, numbers: int, runs: int) -> None:
    """One worker: start, first answer, lookups; prints JSON, waits for the parent."""
    pending = delta(numbers)  # the log's content: made before the start is timed
    rng = random.Random(7)  # noqa: S311 - reproducible probes
    registered = [number(n) for n in rng.sample(range(numbers), min(200_000, numbers))]
    in_blocks = [f"+86{17000000 + rng.randrange(10_000)}{rng.randrange(1000):03d}"
                 for _ in range(50_000)]
    unregistered = [f"+86{13000000001 + n * 7}" for n in range(50_000)]
    before = memory()
    started = time.perf_counter()
    read = snapshot.read(path)
    index = TraceIndex(read.base)
    index.apply_all(pending)
    first = index.check(number(numbers // 2), AT)
    to_first = time.perf_counter() - started
    assert first is None, first
    assert index.find(in_blocks[0])[3] is not None
    figures = {
        "verify_s": read.verify_seconds, "start_to_first_answer_s": to_first,
        "registered_per_s": rate(index.check, registered, runs),
        "block_per_s": rate(index.check, in_blocks, runs),
        "unregistered_per_s": rate(index.check, unregistered, 1),
        **memory_reads(read.base.numbers.cells, runs),
        "before": before, "after": memory(),
    }
    print(json.dumps(figures), flush=True)
    sys.stdin.read()  # stay mapped while the next worker starts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", default=str(Path(tempfile.gettempdir())
                                              / "bench-trace-index.snapshot"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = Path(args.path)
    if args.worker:
        worker(path, args.numbers, args.runs)
        return
    index = TraceIndex()
    started = time.perf_counter()
    for entry in world(args.numbers):
        index.apply(*entry)
    built = time.perf_counter() - started
    started = time.perf_counter()
    size = snapshot.write(path, index.freeze())
    written = time.perf_counter() - started
    print(f"{args.numbers:,} numbers: index from the log {built:.1f} s; snapshot frozen and "
          f"written {written:.1f} s, {size / 1e6:.0f} MB ({size / args.numbers:.0f} B/number)"
          f"; builder RSS {rss() / 1e6:.0f} MB")
    del index
    workers = []
    for name in ("first", "added"):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.bench_shared_index", "--worker", "--numbers",
             str(args.numbers), "--runs", str(args.runs), "--path", str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        figures = json.loads(child.stdout.readline())
        workers.append(child)
        grown = figures["after"]["rss"] - figures["before"]["rss"]
        own = figures["after"]["private"] - figures["before"]["private"]
        print(f"{name} worker: digest checked in {figures['verify_s']:.2f} s, first answer "
              f"{figures['start_to_first_answer_s']:.2f} s after start ({DELTA:,} entries "
              f"caught up); RSS +{grown / 1e6:.0f} MB ({grown / args.numbers:.0f} B/number), "
              f"its own +{own / 1e6:.1f} MB, PSS {figures['after']['pss'] / 1e6:.0f} MB")
        print(f"  lookups/s: registered {figures['registered_per_s']:,.0f}, in a block "
              f"{figures['block_per_s']:,.0f}, unregistered {figures['unregistered_per_s']:,.0f}")
        print(f"  one read of the numbers table: {figures['random_read_ns']:.0f} ns at a "
              f"random cell, {figures['cached_read_ns']:.0f} ns within 64 KiB; a registered "
              f"lookup {1e9 / figures['registered_per_s']:.0f} ns")
    for child in workers:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    path.unlink()


if __name__ == "__main__":
    main()
