"""Readable names for principal ids (operators and members) that records cite as `by`."""

from __future__ import annotations

from collections.abc import Iterable

from registry.db import Connection


async def names_of(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT id, name FROM operators WHERE id = ANY($1::text[])"
        " UNION ALL SELECT id, name FROM members WHERE id = ANY($1::text[])", wanted,
    )
    return {r["id"]: r["name"] for r in rows}
