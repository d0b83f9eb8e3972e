"""What the console shows of the ledger: per principal and Shanghai day, no debtor in sight
(it reads contact_days, the rollup the counting keeps)."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from registry.db import Connection


class LedgerDay(msgspec.Struct, frozen=True):
    day: date
    calls: int = 0
    connected: int = 0
    effective: int = 0
    sms: int = 0
    over_limit: int = 0
    outside_window: int = 0


class LenderTotals(msgspec.Struct, frozen=True):
    id: str
    name: str
    calls: int
    over_limit: int
    outside_window: int


async def days_of(conn: Connection, principal_id: str, last: date, days: int = 30
                  ) -> list[LedgerDay]:
    """Each of the `days` days up to `last`, oldest first, zeros where nothing was counted."""
    first = last - timedelta(days=days - 1)
    rows = await conn.fetch(
        "SELECT day, calls, connected, effective, sms, over_limit, outside_window"
        " FROM contact_days WHERE principal_id = $1 AND day BETWEEN $2 AND $3",
        principal_id, first, last)
    held = {r["day"]: LedgerDay(**dict(r)) for r in rows}
    return [held.get(first + timedelta(days=n), LedgerDay(first + timedelta(days=n)))
            for n in range(days)]


async def lenders_since(conn: Connection, first: date) -> list[LenderTotals]:
    """Every principal with calls since `first`: the most over-limit calls first."""
    rows = await conn.fetch(
        "SELECT d.principal_id AS id, coalesce(m.name, d.principal_id) AS name,"
        " sum(d.calls)::int AS calls, sum(d.over_limit)::int AS over_limit,"
        " sum(d.outside_window)::int AS outside_window"
        " FROM contact_days d LEFT JOIN members m ON m.id = d.principal_id"
        " WHERE d.day >= $1 GROUP BY d.principal_id, m.name"
        " ORDER BY over_limit DESC, calls DESC, id LIMIT 500", first)
    return [LenderTotals(**dict(r)) for r in rows]


async def over_limit_since(conn: Connection, first: date) -> int:
    total = await conn.fetchval(
        "SELECT coalesce(sum(over_limit), 0)::int FROM contact_days WHERE day >= $1", first)
    return int(total)
