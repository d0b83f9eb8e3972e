"""Collector filings as a spreadsheet for association staff: the masked subject (never
the id number or its hash), the filer's name beside its id, and the latest review."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from registry.collectors.model import CollectorFiling
from registry.excel_csv import Column, Label, namer


def columns(names: Mapping[str, str], label: Label) -> list[Column[CollectorFiling]]:
    """`names` maps member and operator ids to names; `label` gives a code's label."""
    name = namer(names)
    return [
        Column("编号", lambda f: f.id, "id"),
        Column("状态", lambda f: label(f.status), "status"),
        Column("报送机构", lambda f: name(f.filer_id), "filer_name"),
        Column("报送机构编号", lambda f: f.filer_id, "filer_id"),
        Column("报送机构类型", lambda f: label(f.filer_kind), "filer_kind"),
        Column("证件类型", lambda f: label(f.id_type), "id_type"),
        Column("催收员姓名（脱敏）", lambda f: f.subject.name_masked, "name_masked"),
        Column("证件号码（脱敏）", lambda f: f.subject.id_masked, "id_masked"),
        Column("违规行为", lambda f: [label(v) for v in f.violations], "violations"),
        Column("违规日期", lambda f: f.incident_on, "incident_on"),
        Column("解聘日期", lambda f: f.dismissed_on, "dismissed_on"),
        Column("概要", lambda f: f.summary, "summary"),
        Column("报送时间", lambda f: f.created_at, "created_at"),
        Column("发布时间", lambda f: f.published_at, "published_at"),
        Column("到期时间", lambda f: f.expires_at, "expires_at"),
        Column("最近处理时间", lambda f: f.history[-1].at if f.history else None,
               "last_action_at"),
        Column("最近处理理由", lambda f: label(f.history[-1].reason) if f.history else None,
               "last_action_reason"),
        Column("处理人", lambda f: name(f.history[-1].by) if f.history else None,
               "last_action_by_name"),
        Column("登记节点", lambda f: f.origin, "origin"),
    ]


def principals_named(filings: Iterable[CollectorFiling]) -> set[str]:
    """Every id a row names, so the caller can look their names up in one query."""
    return ({f.filer_id for f in filings}
            | {f.history[-1].by for f in filings if f.history})
