"""The console's overview: counts an operator checks first, with a chart where one helps."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import FromPath

from api.console.charts import stacked_bars
from api.console.i18n import labeller
from api.console.members import KINDS, STATUSES
from api.console.session import signed_in
from api.console.web import CHINA, lang_of, page, see_other
from api.deps import Db, Node
from api.state import NodeState
from api.trace_state import trace_state
from registry.collectors import stats as filing_stats
from registry.console import audit, staff
from registry.entrustments import stats as supervision_stats
from registry.excel_csv import MEDIA_TYPE, to_excel_csv
from registry.ledger import rules as ledger_rules
from registry.ledger import stats as ledger_stats
from registry.members import stats
from registry.risk import stats as risk_stats
from sync import peers
from sync.status import sync_status


async def _resources_panel(node: NodeState, label: Callable[[Any], str]) -> dict[str, Any]:
    """Resources by the trace decision of now: traceable, or the first link that fails."""
    trace = trace_state(node)
    await trace.feed.ensure_current()
    tally = trace.index.tally(int(time.time()))
    traceable = tally.pop(None, 0)
    failing = sorted(((str(reason), n) for reason, n in tally.items()), key=lambda x: -x[1])
    chart = stacked_bars([
        (label("traceable"), [("traceable", traceable)]),
        (label("not_traceable"), [("not_traceable", sum(n for _, n in failing))]),
    ])
    return {"traceable": traceable, "failing": failing, "chart": chart}


@get("/console", include_in_schema=False)
async def overview(request: Request[Any, Any, Any], db: Db, node: Node) -> Response[Any]:
    label = labeller(lang_of(request))
    counts = await stats.count_by_kind_and_status(db)
    members = {kind: {status: counts.get((kind, status), 0) for status in STATUSES}
               for kind in KINDS}
    member_chart = stacked_bars(
        [(label(kind), [(status, members[kind][status]) for status in STATUSES])
         for kind in KINDS])
    filing_counts = await filing_stats.count_by_status(db)
    risk_counts = await risk_stats.count_late_and_on_time(db)
    intel_chart = stacked_bars([
        (label("collector_filings"),
         [(s, filing_counts.get(s, 0)) for s in ("submitted", "published", "rejected",
                                                  "revoked", "expired")]),
        (label("risk_events"), [("late", risk_counts["late"]),
                                ("on_time", risk_counts["on_time"])]),
    ])
    federation = await sync_status(db, node.node_id)
    today = ledger_rules.day_of(int(time.time()))
    contacts = {"today": await ledger_stats.over_limit_since(db, today),
                "month": await ledger_stats.over_limit_since(db, today - timedelta(days=29))}
    supervision = {**await supervision_stats.counts(db),
                   "incomplete": await risk_stats.count_incomplete(db)}
    return page(request, "console/overview.html", federation=federation,
                supervision=supervision,
                filing_counts=filing_counts,
                risk_counts=risk_counts, intel_chart=intel_chart, members=members, kinds=KINDS,
                statuses=STATUSES, member_chart=member_chart,
                member_total=sum(counts.values()),
                resources=await _resources_panel(node, label), contacts=contacts)


@get("/console/audit", include_in_schema=False)
async def audit_trail(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    chosen = audit_filters(request.query_params)
    staff_members = await staff.list_staff(db)
    return page(request, "console/audit.html", filters=chosen, staff=staff_members,
                actions=AUDIT_ACTIONS, entries=await _audit_entries(db, chosen, 200),
                coded=audit.CODED_DETAILS,
                export_query=urlencode({k: v for k, v in chosen.items() if v}))


@get("/console/audit/export", include_in_schema=False)
async def export_audit_trail(request: Request[Any, Any, Any], db: Db) -> Response[bytes]:
    """The audit trail under the page's filters as CSV for Excel (every matching entry, up
    to EXPORT_LIMIT). Taking a copy of the trail is itself kept in the trail."""
    session = signed_in(request)
    chosen = audit_filters(request.query_params)
    lang = lang_of(request)
    async with db.transaction():
        entries = await _audit_entries(db, chosen, audit.EXPORT_LIMIT)
        await audit.record(db, session.operator_id, "audit_export",
                           detail={k: v for k, v in chosen.items() if v})
    body = to_excel_csv(audit.export_columns(labeller(lang)), entries, english=lang == "en")
    stamp = datetime.now(CHINA).strftime("%Y%m%d-%H%M%S")
    return Response(body, media_type=MEDIA_TYPE, headers={
        "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})


async def _audit_entries(db: Db, chosen: dict[str, str | None], limit: int
                         ) -> list[audit.AuditEntry]:
    return await audit.recent(
        db, operator_id=chosen["operator"], action=chosen["action"],
        target_id=chosen["target"], since=_day(chosen["since"]),
        until=_day(chosen["until"], 1), limit=limit)


AUDIT_ACTIONS = ("sign_in", "sign_in_failed", "sign_out", "member_add", "member_status",
                 "member_disclosure", "filing_publish", "filing_reject", "filing_revoke",
                 "peer_resume", "staff_role", "staff_disable", "staff_enable",
                 "staff_password", "staff_totp", "audit_export")


def audit_filters(params: Any) -> dict[str, str | None]:
    """The audit page's filters from its query string; anything malformed is no filter."""
    chosen = {k: (str(params.get(k) or "").strip()[:100] or None)
              for k in ("operator", "action", "target", "since", "until")}
    if chosen["action"] not in AUDIT_ACTIONS:
        chosen["action"] = None
    for day in ("since", "until"):
        if chosen[day] is not None and _day(chosen[day]) is None:
            chosen[day] = None
    return chosen


def _day(text: str | None, days_after: int = 0) -> datetime | None:
    """The start of a YYYY-MM-DD day in Asia/Shanghai (the day the staff see)."""
    if text is None:
        return None
    try:
        start = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=CHINA)
    except ValueError:
        return None
    return start + timedelta(days=days_after)


@post("/console/peers/{peer_id:str}/resume", include_in_schema=False)
async def resume_peer(
    request: Request[Any, Any, Any], db: Db, peer_id: FromPath[str]
) -> Response[Any]:
    """Pulling from a peer stops at a fault (a broken chain, a bad signature) until an
    operator has looked at it and resumes it here."""
    session = signed_in(request)
    async with db.transaction():
        await peers.clear_fault(db, peer_id)
        await audit.record(db, session.operator_id, "peer_resume", "peer", peer_id)
    return see_other("/console#h-federation")


ROUTES = [overview, audit_trail, export_audit_trail, resume_peer]
