"""Risk-event counts for the console's overview: reported late (after due_at) or on time."""

from __future__ import annotations

from registry.db import Connection


async def count_late_and_on_time(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT late, count(*) AS n FROM risk_events GROUP BY late")
    counts = {"late": 0, "on_time": 0}
    for r in rows:
        counts["late" if r["late"] else "on_time"] += int(r["n"])
    return counts


async def count_incomplete(conn: Connection) -> int:
    """Reports still missing any of cause, situation, impact, measures (Article 24)."""
    return int(await conn.fetchval("SELECT count(*) FROM risk_events WHERE incomplete"))
