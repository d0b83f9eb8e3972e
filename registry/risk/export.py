"""Risk reports as CSV for the financial regulators (Article 24(二)): one row per report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from registry.risk.model import RiskEvent

COLUMNS = (
    "id", "origin", "reporter_id", "reporter_kind", "category", "discovered_at", "due_at",
    "reported_at", "late", "summary", "cause", "situation", "impact", "measures",
    "updates", "last_update_at", "last_update",
)
# A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(events: Iterable[RiskEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for e in events:
        last = e.updates[-1] if e.updates else None
        writer.writerow([_cell(v) for v in (
            e.id, e.origin, e.reporter_id, e.reporter_kind, e.category, e.discovered_at,
            e.due_at, e.reported_at, e.late, e.summary, e.cause, e.situation, e.impact,
            e.measures, len(e.updates), last.at if last else None,
            last.summary if last else None,
        )])
    return out.getvalue()
