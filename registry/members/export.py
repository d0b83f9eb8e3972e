"""Members as a spreadsheet for association staff: one row per member with its disclosed
contacts and complaint channels, and its latest status change with who made it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from registry.excel_csv import Column, Label, namer
from registry.members.model import Member


def columns(names: Mapping[str, str], label: Label) -> list[Column[Member]]:
    """`names` maps operator ids to names; `label` gives a code's label."""
    name = namer(names)
    return [
        Column("编号", lambda m: m.id, "id"),
        Column("机构名称", lambda m: m.name, "name"),
        Column("类型", lambda m: label(m.kind), "kind"),
        Column("机构类别", lambda m: label(m.subtype) if m.subtype else None, "subtype"),
        Column("统一社会信用代码", lambda m: m.uscc, "uscc"),
        Column("状态", lambda m: label(m.status), "status"),
        Column("状态变更时间", lambda m: m.history[-1].at if m.history else None,
               "status_changed_at"),
        Column("变更理由", lambda m: label(m.history[-1].reason) if m.history else None,
               "status_reason"),
        Column("变更人", lambda m: name(m.history[-1].by) if m.history else None,
               "status_changed_by_name"),
        Column("变更人编号", lambda m: m.history[-1].by if m.history else None,
               "status_changed_by"),
        Column("联系电话", lambda m: m.contact.phone, "contact_phone"),
        Column("联系邮箱", lambda m: m.contact.email, "contact_email"),
        Column("联系地址", lambda m: m.contact.address, "contact_address"),
        Column("投诉电话", lambda m: m.complaints.phone, "complaints_phone"),
        Column("投诉邮箱", lambda m: m.complaints.email, "complaints_email"),
        Column("投诉地址", lambda m: m.complaints.address, "complaints_address"),
        Column("投诉处理流程", lambda m: m.complaints.process, "complaints_process"),
        Column("有效公钥数", lambda m: sum(k.revoked_at is None for k in m.keys),
               "active_keys"),
        Column("登记时间", lambda m: m.created_at, "created_at"),
        Column("登记节点", lambda m: m.origin, "origin"),
    ]


def principals_named(members: Iterable[Member]) -> set[str]:
    """Who made each member's latest status change, to look their names up in one query."""
    return {m.history[-1].by for m in members if m.history}
