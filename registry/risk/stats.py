"""Risk-event counts for the console's overview: reported late (after due_at) or on time."""

from __future__ import annotations

from registry.db import Connection


async def count_late_and_on_time(conn: Connection) -> dict[str, int]:
    # The same "late" as risk.store reports on each event: received after its 48 h deadline.
    rows = await conn.fetch(
        "SELECT reported_at > due_at AS late, count(*) AS n FROM risk_events GROUP BY 1")
    counts = {"late": 0, "on_time": 0}
    for r in rows:
        counts["late" if r["late"] else "on_time"] += int(r["n"])
    return counts
