"""Collector-filing counts for the console's overview, by status as the store shows it."""

from __future__ import annotations

from registry.collectors.store import STATUS_NOW
from registry.db import Connection

_BY_STATUS = f"SELECT {STATUS_NOW} AS status, count(*) AS n FROM collector_filings f GROUP BY 1"  # noqa: S608


async def count_by_status(conn: Connection) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in await conn.fetch(_BY_STATUS)}
