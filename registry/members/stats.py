"""Member counts for the console's overview: how many of each kind stand at each status."""

from __future__ import annotations

from registry.db import Connection


async def count_by_kind_and_status(conn: Connection) -> dict[tuple[str, str], int]:
    rows = await conn.fetch("SELECT kind, status, count(*) AS n FROM members GROUP BY 1, 2")
    return {(r["kind"], r["status"]): int(r["n"]) for r in rows}
