"""Complaint figures where decisions are made (Art. 18's evaluation weighs complaint
handling; Art. 22 makes an agency's complaints its lender's): per member and role, by
category, how many, how many still open, how many late."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec

from registry.complaints.model import CATEGORIES
from registry.db import Connection


class CategoryFigures(msgspec.Struct, kw_only=True):
    category: str
    total: int = 0
    open: int = 0
    late: int = 0


class MemberFigures(msgspec.Struct, kw_only=True):
    member_id: str
    name: str
    # "user": complaints about numbers it uses; "principal": about its agencies' numbers.
    role: str
    total: int = 0
    open: int = 0
    late: int = 0
    by_category: list[CategoryFigures] = msgspec.field(default_factory=list)


_ROUTED = """
WITH c AS (
    SELECT c.id, c.category, c.routed_to, a.answered_at,
           complaint_late(c.respond_by, a.answered_at) AS late
    FROM complaints c
    LEFT JOIN LATERAL (SELECT min(r.at) AS answered_at FROM complaint_responses r
                       WHERE r.complaint_id = c.id) a ON true
)
"""
_FIGURES = _ROUTED + """
SELECT r->>'id' AS member_id, max(r->>'name') AS name, r->>'role' AS role, c.category,
       count(*) AS total, count(*) FILTER (WHERE c.answered_at IS NULL) AS open,
       count(*) FILTER (WHERE c.late) AS late
FROM c, jsonb_array_elements(c.routed_to) r
WHERE r->>'role' <> 'operators' AND ($1::text[] IS NULL OR r->>'id' = ANY ($1))
GROUP BY r->>'id', r->>'role', c.category
"""
# Complaints about an agency's numbers that also reached one lender as their principal:
# the agency's complaint handling under that lender's entrustment.
_UNDER_LENDER = _ROUTED + """
SELECT $2::text AS member_id, '' AS name, 'user' AS role, c.category, count(*) AS total,
       count(*) FILTER (WHERE c.answered_at IS NULL) AS open,
       count(*) FILTER (WHERE c.late) AS late
FROM c
WHERE c.routed_to @> jsonb_build_array(jsonb_build_object('id', $1::text, 'role', 'principal'))
  AND c.routed_to @> jsonb_build_array(jsonb_build_object('id', $2::text, 'role', 'user'))
GROUP BY c.category
"""


def _fold(rows: Sequence[asyncpg.Record]) -> list[MemberFigures]:
    found: dict[tuple[str, str], MemberFigures] = {}
    for row in rows:
        key = (str(row["member_id"]), str(row["role"]))
        member = found.get(key)
        if member is None:
            member = found[key] = MemberFigures(member_id=key[0], name=str(row["name"]),
                                                role=key[1])
        figures = CategoryFigures(category=row["category"], total=row["total"],
                                  open=row["open"], late=row["late"])
        member.by_category.append(figures)
        member.total += figures.total
        member.open += figures.open
        member.late += figures.late
    for member in found.values():
        member.by_category.sort(key=lambda f: CATEGORIES.index(f.category))
    return sorted(found.values(), key=lambda m: (-m.late, -m.total, m.name, m.role))


async def figures(
    conn: Connection, member_ids: Sequence[str] | None = None
) -> list[MemberFigures]:
    """Per member and role (every member with complaints, or those named), most late first."""
    rows = await conn.fetch(_FIGURES, None if member_ids is None else list(member_ids))
    return _fold(rows)


async def under_entrustment(
    conn: Connection, lender_id: str, agency_id: str
) -> MemberFigures:
    """The agency's complaints that reached `lender_id` as their principal: what the
    entrustment page shows, and what the lender's yearly evaluation weighs."""
    rows = await conn.fetch(_UNDER_LENDER, lender_id, agency_id)
    folded = _fold(rows)
    return folded[0] if folded else MemberFigures(member_id=agency_id, name="", role="user")
