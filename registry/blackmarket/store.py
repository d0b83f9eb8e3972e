"""Black-market groups, sightings and matching, each scoped by TLP in its SQL (Art. 27)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.blackmarket import indicators, rules
from registry.blackmarket.model import (
    Group,
    GroupCreate,
    GroupPage,
    GroupRef,
    Indicator,
    Match,
    MatchResult,
    Sighting,
    SightingCreate,
)
from registry.blackmarket.rules import VISIBLE_SQL
from registry.db import Connection
from registry.errors import Forbidden, Invalid, NotFound
from registry.ids import new_id
from registry.paging import decode_time_cursor, time_cursor
from registry.records import refuse_foreign

GROUP = "blackmarket_group"
SIGHTING = "blackmarket_sighting"

_LOCK_GROUP = f"""
SELECT x.origin, x.reporter_id, n.node_id FROM blackmarket_groups x, node_identity n
WHERE {VISIBLE_SQL} AND x.id = $3 FOR UPDATE OF x
"""  # noqa: S608  (constant fragments only; every value is a $n parameter)
_SELECT_GROUP = """
SELECT x.id, x.origin, x.reporter_id, x.name, x.category, x.tlp, x.aliases, x.description,
       x.created_at,
       coalesce((SELECT array_agg(i.type || ':' || i.value ORDER BY i.type, i.value)
                 FROM blackmarket_indicators i WHERE i.group_id = x.id), '{}') AS indicators
FROM blackmarket_groups x
"""


def _group(row: asyncpg.Record, actor: Actor | None) -> Group:
    shown = actor is None or actor.is_operator or actor.id == row["reporter_id"]
    return Group(
        id=row["id"], origin=row["origin"], name=row["name"], category=row["category"],
        tlp=row["tlp"], aliases=list(row["aliases"]), description=row["description"],
        indicators=[Indicator(*pair.split(":", 1)) for pair in row["indicators"]],
        created_at=row["created_at"], reporter_id=row["reporter_id"] if shown else None,
    )


async def _log_group(conn: Connection, group_id: str, actor: Actor) -> Group:
    row = await conn.fetchrow(_SELECT_GROUP + " WHERE x.id = $1", group_id)
    assert row is not None
    group = _group(row, None)
    await changelog.append_one(conn, GROUP, group_id, group)
    await record_evidence(conn, actor, GROUP, group_id)
    return group


async def _add_indicators(conn: Connection, group_id: str, found: list[Indicator]) -> None:
    await conn.executemany(
        "INSERT INTO blackmarket_indicators (group_id, type, value) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        [(group_id, i.type, i.value) for i in found],
    )


async def create_group(conn: Connection, data: GroupCreate, actor: Actor) -> Group:
    name, aliases, description = rules.check_group(data)
    found = indicators.normalise_all(data.indicators)
    group_id = new_id("bg")
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO blackmarket_groups (id, origin, reporter_id, name, category, tlp,"
            " aliases, description) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            group_id, await changelog.node_id(conn), actor.id, name, data.category, data.tlp,
            aliases, description,
        )
        await _add_indicators(conn, group_id, found)
        return await _log_group(conn, group_id, actor)


async def add_indicators(
    conn: Connection, group_id: str, new: list[Indicator], actor: Actor
) -> Group:
    """The reporter (or an operator) adds indicators to a group of this node."""
    if len(new) > rules.MAX_INDICATORS:
        raise Invalid.field("indicators", f"at most {rules.MAX_INDICATORS}")
    found = indicators.normalise_all(new)
    async with conn.transaction():
        row = await conn.fetchrow(
            _LOCK_GROUP,
            actor.is_operator, actor.id, group_id,
        )
        if row is None:
            raise NotFound(f"no black-market group {group_id}")
        if not (actor.is_operator or row["reporter_id"] == actor.id):
            raise Forbidden("only the reporter or an operator may add indicators")
        refuse_foreign(row["origin"], row["node_id"], f"group {group_id}")
        await _add_indicators(conn, group_id, found)
        await conn.execute(
            "UPDATE blackmarket_groups SET updated_at = now() WHERE id = $1", group_id
        )
        return await _log_group(conn, group_id, actor)


async def get_group(conn: Connection, group_id: str, actor: Actor) -> Group:
    row = await conn.fetchrow(
        _SELECT_GROUP + f" WHERE {VISIBLE_SQL} AND x.id = $3",
        actor.is_operator, actor.id, group_id,
    )
    if row is None:
        raise NotFound(f"no black-market group {group_id}")
    return _group(row, actor)


async def list_groups(
    conn: Connection, actor: Actor, *, category: str | None = None,
    cursor: str | None = None, limit: int = 50,
) -> GroupPage:
    after_at, after_id = decode_time_cursor(cursor)
    rows = await conn.fetch(
        _SELECT_GROUP + f""" WHERE {VISIBLE_SQL}
          AND ($3::text IS NULL OR x.category = $3)
          AND ($4::timestamptz IS NULL OR (x.created_at, x.id) > ($4, $5))
        ORDER BY x.created_at, x.id LIMIT $6""",
        actor.is_operator, actor.id, category, after_at, after_id, limit + 1,
    )
    items = [_group(r, actor) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = time_cursor(items[-1].created_at, items[-1].id)
    return GroupPage(items, next_cursor)


async def add_sighting(conn: Connection, data: SightingCreate, actor: Actor) -> Sighting:
    found = indicators.normalise_all([Indicator(data.type, data.value)], "sighting")[0]
    async with conn.transaction():
        sighting = await record_sighting(conn, actor.id, found, data.seen_at, data.tlp)
        await record_evidence(conn, actor, SIGHTING, sighting.id)
    return sighting


async def record_sighting(
    conn: Connection, reporter_id: str, found: Indicator, seen_at: datetime, tlp: str
) -> Sighting:
    """Keep and log a sighting of a normalised indicator, in the caller's transaction
    (a member's report, or a complaint about a number that traces to nobody)."""
    row = await conn.fetchrow(
        "INSERT INTO blackmarket_sightings (id, origin, reporter_id, type, value, seen_at,"
        " tlp) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " RETURNING id, origin, reporter_id, type, value, seen_at, tlp, created_at",
        new_id("bs"), await changelog.node_id(conn), reporter_id, found.type, found.value,
        seen_at, tlp,
    )
    assert row is not None
    sighting = Sighting(**dict(row))
    await changelog.append_one(conn, SIGHTING, sighting.id, sighting)
    return sighting


_MATCH_GROUPS = f"""
WITH q AS (SELECT * FROM unnest($3::text[], $4::text[]) AS q(type, value))
SELECT i.type, i.value, x.id, x.name, x.category, x.tlp
FROM q JOIN blackmarket_indicators i ON i.type = q.type AND i.value = q.value
       JOIN blackmarket_groups x ON x.id = i.group_id
WHERE {VISIBLE_SQL}
ORDER BY x.created_at, x.id
"""  # noqa: S608  (constant fragments only; every value is a $n parameter)
# Corroboration: distinct principals that reported the indicator in a group or a sighting
# the caller may see (a red report counts only for operators).
_MATCH_REPORTERS = f"""
WITH q AS (SELECT * FROM unnest($3::text[], $4::text[]) AS q(type, value))
SELECT type, value, count(DISTINCT reporter_id) AS reporters FROM (
    SELECT i.type, i.value, x.reporter_id
    FROM q JOIN blackmarket_indicators i ON i.type = q.type AND i.value = q.value
           JOIN blackmarket_groups x ON x.id = i.group_id
    WHERE {VISIBLE_SQL}
    UNION ALL
    SELECT x.type, x.value, x.reporter_id
    FROM q JOIN blackmarket_sightings x ON x.type = q.type AND x.value = q.value
    WHERE {VISIBLE_SQL}
) reports GROUP BY type, value
"""  # noqa: S608


async def match(conn: Connection, wanted: list[Indicator], actor: Actor) -> MatchResult:
    """The indicators (in request order) that some visible group or sighting names."""
    if len(wanted) > rules.MAX_INDICATORS:
        raise Invalid.field("indicators", f"at most {rules.MAX_INDICATORS}")
    found = indicators.normalise_all(wanted)
    args = (actor.is_operator, actor.id, [i.type for i in found], [i.value for i in found])
    groups: dict[tuple[str, str], list[GroupRef]] = {}
    for r in await conn.fetch(_MATCH_GROUPS, *args):
        groups.setdefault((r["type"], r["value"]), []).append(
            GroupRef(r["id"], r["name"], r["category"], r["tlp"]))
    counts = {(r["type"], r["value"]): r["reporters"]
              for r in await conn.fetch(_MATCH_REPORTERS, *args)}
    return MatchResult([
        Match(i.type, i.value, groups.get((i.type, i.value), []), counts[(i.type, i.value)])
        for i in found if (i.type, i.value) in counts
    ])


async def apply_remote_group(
    conn: Connection, origin: str, group_id: str, group: Group
) -> None:
    """Hold a peer's group as its home node last logged it; its indicators only with it."""
    applied = await conn.fetchval(
        """INSERT INTO blackmarket_groups (id, origin, reporter_id, name, category, tlp, aliases,
               description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET name = $4, category = $5, tlp = $6, aliases = $7,
               description = $8, updated_at = now()
           WHERE blackmarket_groups.origin = $2
           RETURNING id""",
        group_id, origin, group.reporter_id or "", group.name, group.category, group.tlp,
        group.aliases, group.description, group.created_at,
    )
    if applied is None:
        return
    await conn.execute("DELETE FROM blackmarket_indicators WHERE group_id = $1", group_id)
    await _add_indicators(conn, group_id, group.indicators)


async def apply_remote_sighting(
    conn: Connection, origin: str, sighting_id: str, s: Sighting
) -> None:
    await conn.execute(
        """INSERT INTO blackmarket_sightings (id, origin, reporter_id, type, value, seen_at, tlp,
               created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET tlp = $7 WHERE blackmarket_sightings.origin = $2""",
        sighting_id, origin, s.reporter_id, s.type, s.value, s.seen_at, s.tlp, s.created_at,
    )
