"""The operator audit trail: who did what from the console, to which record, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from registry.db import Connection
from registry.excel_csv import Column, Label

# How many entries one export holds at most: years of a busy association's console.
EXPORT_LIMIT = 100_000
# Detail values that are codes (a status, a decision), shown by their label.
CODED_DETAILS = frozenset({"from", "to", "decision", "why", "role", "kind"})


class AuditEntry(msgspec.Struct, frozen=True):
    at: datetime
    operator_id: str | None
    operator_name: str | None
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]


async def record(
    conn: Connection, operator_id: str | None, action: str,
    target_type: str | None = None, target_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry; call it inside the action's own transaction so both commit together."""
    await conn.execute(
        "INSERT INTO operator_audit (operator_id, action, target_type, target_id, detail)"
        " VALUES ($1, $2, $3, $4, $5)",
        operator_id, action, target_type, target_id, detail or {},
    )


async def recent(
    conn: Connection, *, target_type: str | None = None, target_id: str | None = None,
    operator_id: str | None = None, action: str | None = None,
    since: datetime | None = None, until: datetime | None = None, limit: int = 50,
) -> list[AuditEntry]:
    """The newest entries first, each filter applied when given."""
    rows = await conn.fetch(
        "SELECT a.at, a.operator_id, o.name, a.action, a.target_type, a.target_id, a.detail"
        " FROM operator_audit a LEFT JOIN operators o ON o.id = a.operator_id"
        " WHERE ($1::text IS NULL OR a.target_type = $1)"
        "   AND ($2::text IS NULL OR a.target_id = $2)"
        "   AND ($4::text IS NULL OR a.operator_id = $4)"
        "   AND ($5::text IS NULL OR a.action = $5)"
        "   AND ($6::timestamptz IS NULL OR a.at >= $6)"
        "   AND ($7::timestamptz IS NULL OR a.at < $7)"
        " ORDER BY a.id DESC LIMIT $3",
        target_type, target_id, limit, operator_id, action, since, until,
    )
    return [AuditEntry(r["at"], r["operator_id"], r["name"], r["action"], r["target_type"],
                       r["target_id"], r["detail"]) for r in rows]


def detail_text(detail: dict[str, Any], label: Label) -> str:
    """`key: value; ...` as the audit page shows it, codes by their label."""
    return "; ".join(
        f"{label(key)}: {label(str(value)) if key in CODED_DETAILS else value}"
        for key, value in detail.items())


def export_columns(label: Label) -> list[Column[AuditEntry]]:
    """The audit trail as a spreadsheet: the operator's name beside its id."""
    return [
        Column("时间", lambda a: a.at, "at"),
        Column("操作人", lambda a: a.operator_name, "operator_name"),
        Column("操作人编号", lambda a: a.operator_id, "operator_id"),
        Column("操作", lambda a: label(a.action), "action"),
        Column("对象类型", lambda a: a.target_type, "target_type"),
        Column("对象编号", lambda a: a.target_id, "target_id"),
        Column("详情", lambda a: detail_text(a.detail, label), "detail"),
    ]
