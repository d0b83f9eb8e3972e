"""Console pages for the contact ledger: every lender's last 30 days, and one lender's days
with a chart (calls within the limit, over it, not connected), drawn on the server."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from api.console.charts import stacked_bars
from api.console.i18n import labeller
from api.console.web import lang_of, page
from api.deps import Db
from registry.errors import NotFound
from registry.ledger import rules, stats
from registry.members import store as members

DAYS = 30


def today() -> Any:
    return rules.day_of(int(time.time()))


@get("/console/ledger", include_in_schema=False)
async def ledger_overview(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    first = today() - timedelta(days=DAYS - 1)
    return page(request, "console/ledger.html", lenders=await stats.lenders_since(db, first),
                first=first, days=DAYS)


@get("/console/ledger/{principal_id:str}", include_in_schema=False)
async def ledger_of(
    request: Request[Any, Any, Any], db: Db, principal_id: FromPath[str]
) -> Response[Any]:
    member = await members.get_member(db, principal_id)
    if member.kind not in ("lender", "debt_buyer"):
        raise NotFound(f"{principal_id} is not a lender: its calls count for its lenders")
    days = await stats.days_of(db, principal_id, today(), DAYS)
    label = labeller(lang_of(request))
    chart = stacked_bars([
        (d.day.strftime("%m-%d"), [("within_limit", d.connected - d.over_limit),
                                   ("over_limit", d.over_limit),
                                   ("not_connected", d.calls - d.connected - d.sms),
                                   ("sms", d.sms)])
        for d in days])
    totals = {key: sum(getattr(d, key) for d in days)
              for key in ("calls", "connected", "effective", "sms", "over_limit",
                          "outside_window")}
    return page(request, "console/ledger_lender.html", member=member, days=days,
                chart=chart, totals=totals, chart_title=label("ledger_chart"))


ROUTES = [ledger_overview, ledger_of]
