"""Complaints as a spreadsheet for association staff: where each was routed (names, as
the trace named them), whether it was answered in time, and the latest response."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from registry.complaints.model import Complaint
from registry.excel_csv import Column, Label, namer


def columns(names: Mapping[str, str], label: Label) -> list[Column[Complaint]]:
    """`names` maps member and operator ids to names; `label` gives a code's label."""
    name = namer(names)
    return [
        Column("编号", lambda c: c.id, "id"),
        Column("来源", lambda c: label(c.source), "source"),
        Column("提交机构", lambda c: name(c.filer_id), "filer_name"),
        Column("提交机构编号", lambda c: c.filer_id, "filer_id"),
        Column("被投诉号码", lambda c: c.number, "number"),
        Column("来电时间", lambda c: c.received_at, "received_at"),
        Column("投诉类别", lambda c: label(c.category), "category"),
        Column("投诉内容", lambda c: c.summary, "summary"),
        Column("可追溯", lambda c: c.traceable, "traceable"),
        Column("不可追溯原因", lambda c: label(c.reason) if c.reason else None, "reason"),
        Column("转办对象", lambda c: [r.name for r in c.routed_to], "routed_to_names"),
        Column("转办对象编号", lambda c: [r.id for r in c.routed_to], "routed_to"),
        Column("答复期限", lambda c: c.respond_by, "respond_by"),
        Column("逾期", lambda c: c.late, "late"),
        Column("状态", lambda c: label(c.status), "status"),
        Column("答复次数", lambda c: len(c.responses), "response_count"),
        Column("最近答复时间", lambda c: c.responses[-1].at if c.responses else None,
               "last_response_at"),
        Column("最近答复机构", lambda c: name(c.responses[-1].responder_id)
               if c.responses else None, "last_responder_name"),
        Column("最近答复结果", lambda c: label(c.responses[-1].outcome)
               if c.responses else None, "last_outcome"),
        Column("最近答复内容", lambda c: c.responses[-1].summary if c.responses else None,
               "last_response"),
        Column("登记时间", lambda c: c.created_at, "created_at"),
        Column("登记节点", lambda c: c.origin, "origin"),
    ]


def principals_named(complaints: Iterable[Complaint]) -> set[str]:
    """Every id a row names, so the caller can look their names up in one query."""
    return ({c.filer_id for c in complaints if c.filer_id}
            | {r.responder_id for c in complaints for r in c.responses})
