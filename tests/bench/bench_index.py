"""The trace index on its own, built from the log alone (as the snapshot builder and a node
with a small log hold it; workers of a larger node stand on a shared snapshot instead,
tests/bench/bench_shared_index.py): lookups per second on one core (process CPU time) for
E.164 input, and bytes per number, at 1,000,000 numbers.

    .venv/bin/python -m tests.bench.bench_index [--numbers 1000000]

Half the numbers are used by lenders themselves, half by agencies under a filed
entrustment, supplied in batches of 1000 as carriers do; members and entrustments as in
tests/bench/bench_trace.py. Memory is the growth of the process's resident set while the
index is built (entries are made one at a time and dropped, so only the index remains).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

from registry.resources.model import confirmation_id, filing_id
from registry.trace.index import TraceIndex

Entry = tuple[str, int, str, str, dict[str, Any] | None]
AT = int(time.time())


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def member_id(n: int) -> str:
    return f"m_{n:032x}"


def world(numbers: int, members: int = 5000, blocks: int = 10_000,
          origin: str = "bench") -> Iterator[Entry]:
    """Change-log entries of one origin, shaped as the stores log them: members,
    entrustments, supplies, confirmations and filings."""
    seq = 0
    at = "2026-01-01T00:00:00+08:00"

    def entry(type: str, record_id: str, data: dict[str, Any]) -> Entry:
        nonlocal seq
        seq += 1
        return (origin, seq, type, record_id, data)

    carriers, lenders = range(0, 100), range(100, 1100)
    kinds = {**{n: "carrier" for n in carriers}, **{n: "lender" for n in lenders}}
    for n in range(members):
        yield entry("member", member_id(n), {
            "id": member_id(n), "origin": origin, "kind": kinds.get(n, "collection_agency"),
            "subtype": None, "name": f"成员{n}", "uscc": f"U{n:017d}", "status": "active",
            "contact": {"phone": None, "email": None, "address": None},
            "complaints": {"phone": "400-800-1234", "email": None, "address": None,
                           "process": None},
            "created_at": at, "history": []})
    for a in range(1100, members):
        yield entry("entrustment", f"e_{a}", {
            "id": f"e_{a}", "lender_id": member_id(100 + a % 1000), "agency_id": member_id(a),
            "starts_on": "2026-01-01", "ends_on": "2027-12-31", "subcontracting_allowed": False,
            "parent_id": None, "ended": False, "ended_at": None, "end_reason": None,
            "created_at": at})
    for n in range(numbers + blocks):
        batch = n // 1000
        carrier = member_id(batch % 100)
        user_n = (100 + batch % 1000) if batch % 2 == 0 else (1100 + batch % (members - 1100))
        user = member_id(user_n)
        rid = resource_id(n)
        if n < numbers:
            kind, value = "voice", number(n)
        else:
            kind, value = "voice_block", f"+86{17000000 + (n - numbers)}"
        valid_from = f"2026-{1 + batch % 10:02d}-01T00:00:00+08:00"
        yield entry("resource", rid, {"id": rid, "kind": kind, "value": value,
                                      "supplier_id": carrier, "assignee_id": user,
                                      "valid_from": valid_from, "valid_to": None,
                                      "created_at": at})
        yield entry("resource_confirmation", confirmation_id(rid, user), {
            "resource_id": rid, "kind": kind, "value": value, "member_id": user,
            "confirmed_at": at})
        if user_n >= 1100:
            yield entry("resource_filing", filing_id(rid, f"e_{user_n}"), {
                "resource_id": rid, "kind": kind, "value": value,
                "entrustment_id": f"e_{user_n}", "lender_id": member_id(100 + user_n % 1000),
                "filed_at": at})


def resource_id(n: int) -> str:
    return f"r_{n:032x}"


def number(n: int) -> str:
    """The n-th registered voice number (E.164); n + 1 of them is never registered."""
    return f"+86{13000000000 + n * 7}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    index = TraceIndex()
    gc.collect()
    before = rss()
    started = time.perf_counter()
    applied = 0
    for origin, seq, type, record_id, data in world(args.numbers):
        index.apply(origin, seq, type, record_id, data)
        applied += 1
    built = time.perf_counter() - started
    gc.collect()
    grown = rss() - before
    print(f"built {len(index):,} resources from {applied:,} entries in {built:.1f} s "
          f"({applied / built:,.0f} entries/s); {len(index.states):,} shared states")
    print(f"memory: {grown / 1e6:.1f} MB resident growth = {grown / args.numbers:.0f} bytes"
          " per number (target <= 150)")

    probe = [number(n) for n in random.sample(range(args.numbers), min(200_000, args.numbers))]
    misses = [f"+86{13000000001 + n * 7}" for n in range(50_000)]  # between registered ones
    check = index.checker()
    rates = []
    for _ in range(args.runs):
        # CPU time of this process: the rate on one core, whatever else the machine runs.
        t = time.process_time()
        for value in probe:
            check(value, AT)
        rates.append(len(probe) / (time.process_time() - t))
    assert all(check(v, AT) is None for v in probe[:1000])
    print(f"lookups: median {statistics.median(rates):,.0f}/s over {args.runs} runs of "
          f"{len(probe):,} registered E.164 numbers (target >= 1,000,000/s)")
    t = time.process_time()
    for value in misses:
        check(value, AT)
    print(f"unregistered (block search): {len(misses) / (time.process_time() - t):,.0f}/s")


if __name__ == "__main__":
    main()
