"""A worker starting on a snapshot reads the ledger's entries through the partial index
change_log_ledger, not by walking the log: at ten million numbers that walk outran the
statement timeout and the node could not start (migration 0017)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import asyncpg

from registry.ledger.memory import TYPES as LEDGER_TYPES
from registry.ledger.store import REPORT
from registry.trace.feed import LEDGER_UPTO, PAGE


def test_the_query_names_the_ledger_types_as_the_index_does() -> None:
    named = re.search(r"c\.type IN \(([^)]*)\)", LEDGER_UPTO)
    assert named is not None
    assert {name.strip(" '") for name in named.group(1).split(",")} == LEDGER_TYPES


def _scans(plan: dict[str, object]) -> list[tuple[str, str]]:
    found = [(str(plan.get("Node Type")), str(plan.get("Index Name", "")))]
    for child in plan.get("Plans", []):  # type: ignore[attr-defined]
        found += _scans(child)
    return found


async def test_the_ledger_entries_of_a_long_log_are_read_through_their_index(
    database_url: str,
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # A log of 100,000 supplies with three ledger entries among them, as the planner
        # sees it after ANALYZE.
        await conn.execute("""
            INSERT INTO change_log (origin, seq, type, record_id, op, data, data_hash, prev,
                                    hash)
            SELECT 'priming', n, CASE WHEN n % 40000 = 0 THEN 'contact_agreement'
                                      ELSE 'resource' END,
                   'r_' || n, 'upsert', NULL, repeat('0', 64), repeat('0', 64),
                   repeat('0', 64)
            FROM generate_series(1, 100000) AS n""")
        await conn.execute("ANALYZE change_log")
        since = datetime(2026, 1, 1, tzinfo=UTC)
        arguments = ("priming", 0, REPORT, since, 100_000, PAGE)
        (plan,) = json.loads(await conn.fetchval("EXPLAIN (FORMAT JSON) " + LEDGER_UPTO,
                                                 *arguments))
        assert ("Index Scan", "change_log_ledger") in _scans(plan["Plan"])
        rows = await conn.fetch(LEDGER_UPTO, *arguments)
        assert [row["seq"] for row in rows] == [40000, 80000]
    finally:
        await conn.execute("DELETE FROM change_log WHERE origin = 'priming'")
        await conn.close()
