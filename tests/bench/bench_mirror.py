"""A carrier mirror at 1,000,000 numbers: restart from its journal, lookups per second on
one core for E.164 input, and bytes per number (issue 5).

    .venv/bin/python -m tests.bench.bench_mirror [--numbers 1000000] [--runs 3]

The journal holds the change-log entries a mirror pulls for the world of
tests/bench/bench_index.py (members, entrustments, and per number a supply, a confirmation
and, for agencies, a filing), written as CarrierMirror writes what it verified. The bench
then starts a mirror on it the way a restarted carrier process does (`load()`), and asks
`mirror.check` about registered numbers. Memory is the growth of the resident set across
the load, after the garbage of decoding is collected and returned to the system.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import random
import statistics
import tempfile
import time
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.canonical import canonical
from sync.mirror import CarrierMirror, Header, Line
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "mirror.journal"
        started = time.perf_counter()
        entries = write_journal(journal, args.numbers)
        print(f"journal of {entries:,} entries ({journal.stat().st_size / 1e6:.0f} MB) "
              f"written in {time.perf_counter() - started:.1f} s")
        trim()
        before = rss()
        mirror = CarrierMirror(URL, member_id="m_carrier", key=Ed25519PrivateKey.generate(),
                               kid="k1", snapshot=journal)
        started = time.perf_counter()
        loaded = mirror.load()
        took = time.perf_counter() - started
        mirror.close()
        trim()
        grown = rss() - before
    print(f"restart: {loaded:,} entries re-applied in {took:.1f} s ({loaded / took:,.0f}/s)")
    print(f"memory: {grown / 1e6:.1f} MB resident growth = {grown / args.numbers:.0f} bytes per"
          " number (target <= 150)")
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
