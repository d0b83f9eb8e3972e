"""A carrier mirror at 1,000,000 numbers: restart from its journal and from its snapshot,
the snapshot's size, lookups per second on one core for E.164 input, and bytes per number
(issue 5).

    .venv/bin/python -m tests.bench.bench_mirror [--numbers 1000000] [--runs 3]

The journal holds the change-log entries a mirror pulls for the world of
tests/bench/bench_index.py (members, entrustments, and per number a supply, a confirmation
and, for agencies, a filing), written as CarrierMirror writes what it verified. The bench
starts mirrors on it the way a restarted carrier process does (`load()`), snapshots one's
index (`write_snapshot()`, the node's own format: registry/trace/snapshot.py), starts
mirrors on that (mapped and digest-checked, nothing applied), and asks `mirror.check` about
registered numbers. Memory is the growth of the resident set across a load, after the
garbage of decoding is collected and returned to the system.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.canonical import canonical
from sync.mirror import CarrierMirror
from sync.mirror_journal import Header, Line
from tests.bench.bench_index import AT, number, rss, world

URL = "http://node-tel.invalid"


def write_journal(path: Path, numbers: int) -> int:
    written = 0
    with path.open("wb") as journal:
        header = Header("node-tel", URL, [], "m_carrier")
        journal.write(msgspec.json.encode(header) + b"\n")
        lines: list[bytes] = []
        entries = world(numbers, origin="node-tel")
        pending = next(entries, None)
        while pending is not None:
            origin, seq, type, record_id, data = pending
            pending = next(entries, None)
            # Pages of 5000 as the mirror pulls them; the page's last line holds its hash.
            page_end = pending is None or seq % 5000 == 0
            lines.append(msgspec.json.encode(Line(origin, seq, type, record_id,
                                                  "0" * 64 if page_end else "",
                                                  msgspec.Raw(canonical(data)))))
            if page_end:
                journal.write(b"\n".join(lines) + b"\n")
                written += len(lines)
                lines = []
    return written


def trim() -> None:
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def restart(snapshot: Path) -> tuple[CarrierMirror, float, float, int]:
    """A mirror started on `snapshot` (and its journal): the time its load took (wall and
    CPU: the machine may be shared), and the growth of the resident set it caused."""
    trim()
    before = rss()
    mirror = CarrierMirror(URL, member_id="m_carrier", key=Ed25519PrivateKey.generate(),
                           kid="k1", snapshot=snapshot)
    started, cpu = time.perf_counter(), time.process_time()
    mirror.load()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    trim()
    return mirror, took, cpu, rss() - before


def medians(label: str, walls: list[float], cpus: list[float]) -> None:
    print(f"restart from {label}: median {statistics.median(walls):.2f} s wall "
          f"({', '.join(f'{t:.2f}' for t in walls)}), {statistics.median(cpus):.2f} s CPU "
          f"({', '.join(f'{t:.2f}' for t in cpus)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--grown", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.grown:  # a fresh process: nothing freed earlier for the load to reuse
        print(restart(args.grown)[3])
        return
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "mirror.snapshot"
        journal = snapshot.with_name(snapshot.name + ".journal")
        started = time.perf_counter()
        entries = write_journal(journal, args.numbers)
        print(f"journal of {entries:,} entries ({journal.stat().st_size / 1e6:.0f} MB) "
              f"written in {time.perf_counter() - started:.1f} s")
        walls, cpus, grows = [], [], []
        for _ in range(args.runs):
            mirror, took, cpu, grown = restart(snapshot)
            walls.append(took)
            cpus.append(cpu)
            grows.append(grown)
            del mirror
        medians("the journal", walls, cpus)
        print(f"memory after the first: {grows[0] / args.numbers:.0f} bytes per number")
        mirror, *_ = restart(snapshot)
        started = time.perf_counter()
        written = mirror.write_snapshot()  # its index, in the node's snapshot format
        assert written is not None
        del mirror
        size = snapshot.stat().st_size
        print(f"snapshot of {written.records:,} resources: {size / 1e6:.1f} MB "
              f"({size / args.numbers:.0f} bytes per number), written in "
              f"{time.perf_counter() - started:.1f} s; journal left: {journal.stat().st_size} B")
        grown = int(subprocess.run(
            [sys.executable, "-m", "tests.bench.bench_mirror", "--grown", str(snapshot)],
            check=True, capture_output=True, text=True).stdout.split()[-1])
        walls, cpus = [], []
        for _ in range(args.runs):
            mirror, took, cpu, _ = restart(snapshot)
            walls.append(took)
            cpus.append(cpu)
            mirror.close()
    medians("the snapshot", walls, cpus)
    print(f"memory: {grown / 1e6:.1f} MB resident growth (a fresh process loading the "
          f"snapshot) = {grown / args.numbers:.0f} bytes per number (target <= 150)")
    probe = [number(n) for n in random.sample(range(args.numbers), min(200_000, args.numbers))]
    check = mirror.check
    assert all(check(v, AT) is None for v in probe[:1000])
    rates = []
    for _ in range(args.runs):
        t = time.process_time()  # CPU time of this process: one core, whatever else runs
        for value in probe:
            check(value, AT)
        rates.append(len(probe) / (time.process_time() - t))
    print(f"lookups via mirror.check: median {statistics.median(rates):,.0f}/s over "
          f"{args.runs} runs of {len(probe):,} E.164 numbers (target >= 1,000,000/s)")


if __name__ == "__main__":
    main()
