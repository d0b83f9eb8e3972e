"""What the console's overview counts of agency supervision (Article 18): evaluations and
rectifications past their dates, and agencies no longer active that lenders still entrust.
The dates are judged by the same rules as every entrustment answer (rules.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from registry.db import Connection
from registry.entrustments import rules
from registry.entrustments.model import EntrustmentRecord

# Entrustments in force on $1 with the end of their last evaluated period.
_IN_FORCE = """
SELECT e.id, e.origin, e.lender_id, e.agency_id, e.starts_on, e.ends_on,
       e.subcontracting_allowed, e.parent_id, e.ended, e.ended_at, e.end_reason, e.created_at,
       (SELECT max(v.period_end) FROM agency_evaluations v WHERE v.entrustment_id = e.id)
           AS last_period_end,
       m.status AS agency_status
FROM entrustments e LEFT JOIN members m ON m.id = e.agency_id
WHERE NOT e.ended AND e.starts_on <= $1 AND e.ends_on >= $1
"""


class InForce(NamedTuple):
    """An entrustment in force, with what its supervision calendar is judged on."""

    record: EntrustmentRecord
    origin: str
    last_period_end: date | None
    agency_status: str | None


async def in_force_on(conn: Connection, on: date) -> list[InForce]:
    """Every entrustment in force on `on` (what the console counts and the reminders tell)."""
    return [InForce(EntrustmentRecord(**{f: row[f] for f in EntrustmentRecord.__struct_fields__}),
                    row["origin"], row["last_period_end"], row["agency_status"])
            for row in await conn.fetch(_IN_FORCE, on)]


@dataclass
class Flagged:
    """Ids of entrustments in force that need an operator's look, by reason."""

    evaluation_overdue: list[str] = field(default_factory=list)
    rectification_overdue: list[str] = field(default_factory=list)
    agency_not_active: list[str] = field(default_factory=list)


async def flagged(conn: Connection, on: date | None = None) -> Flagged:
    on = on or rules.today()
    found = Flagged()
    for record, _, last_period_end, agency_status in await in_force_on(conn, on):
        due_on = rules.evaluation_due_on(record, last_period_end)
        if rules.evaluation_overdue(record, due_on, on):
            found.evaluation_overdue.append(record.id)
        if agency_status != "active":
            found.agency_not_active.append(record.id)
    for row in await conn.fetch(
            "SELECT entrustment_id, status, due_on FROM rectifications WHERE status = 'open'"):
        if rules.rectification_overdue(row["status"], row["due_on"], on):
            found.rectification_overdue.append(row["entrustment_id"])
    return found


async def counts(conn: Connection, on: date | None = None) -> dict[str, int]:
    """Overdue evaluations (entrustments), overdue rectifications, agencies suspended or
    removed while still entrusted (distinct agencies)."""
    found = await flagged(conn, on)
    agencies = await conn.fetchval(
        "SELECT count(DISTINCT agency_id) FROM entrustments WHERE id = ANY($1::text[])",
        found.agency_not_active)
    return {"evaluation_overdue": len(found.evaluation_overdue),
            "rectification_overdue": len(found.rectification_overdue),
            "agency_not_active": int(agencies)}
