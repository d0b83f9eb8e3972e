"""Risk reports as CSV for the financial regulators (Article 24(二)): one row per report,
in Chinese, with each institution's name beside its id (opens as is in Excel)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from registry.excel_csv import Column, Label, namer, to_excel_csv
from registry.risk.model import RiskEvent


def columns(names: Mapping[str, str], label: Label) -> list[Column[RiskEvent]]:
    """`names` maps member and operator ids to names; `label` gives a code's label."""
    name = namer(names)
    return [
        Column("编号", lambda e: e.id, "id"),
        Column("事件类别", lambda e: label(e.category), "category"),
        Column("报告机构", lambda e: name(e.reporter_id), "reporter_name"),
        Column("报告机构编号", lambda e: e.reporter_id, "reporter_id"),
        Column("报告机构类型", lambda e: label(e.reporter_kind), "reporter_kind"),
        Column("涉事机构", lambda e: name(e.institution_id), "institution_name"),
        Column("涉事机构编号", lambda e: e.institution_id, "institution_id"),
        Column("发现时间", lambda e: e.discovered_at, "discovered_at"),
        Column("报告期限", lambda e: e.due_at, "due_at"),
        Column("报告时间", lambda e: e.reported_at, "reported_at"),
        Column("逾期报告", lambda e: e.late, "late"),
        Column("要素不全", lambda e: e.incomplete, "incomplete"),
        Column("概要", lambda e: e.summary, "summary"),
        Column("起因", lambda e: e.cause, "cause"),
        Column("状况", lambda e: e.situation, "situation"),
        Column("影响", lambda e: e.impact, "impact"),
        Column("措施", lambda e: e.measures, "measures"),
        Column("续报次数", lambda e: len(e.updates), "update_count"),
        Column("最近续报时间", lambda e: e.updates[-1].at if e.updates else None,
               "last_update_at"),
        Column("最近续报", lambda e: e.updates[-1].summary if e.updates else None,
               "last_update"),
        Column("协会确认时间", lambda e: e.acknowledged_at, "acknowledged_at"),
        Column("确认人", lambda e: name(e.acknowledged_by), "acknowledged_by_name"),
        Column("报送监管时间", lambda e: e.forwarded_at, "forwarded_at"),
        Column("报送人", lambda e: name(e.forwarded_by), "forwarded_by_name"),
        Column("报送对象", lambda e: e.forwarded_to, "forwarded_to"),
        Column("登记节点", lambda e: e.origin, "origin"),
    ]


def to_csv(events: Iterable[RiskEvent], names: Mapping[str, str], label: Label) -> bytes:
    return to_excel_csv(columns(names, label), events)


def principals_named(events: Iterable[RiskEvent]) -> set[str]:
    """Every id a row names, so the caller can look their names up in one query."""
    return {i for e in events for i in (e.reporter_id, e.institution_id, e.acknowledged_by,
                                        e.forwarded_by) if i}
