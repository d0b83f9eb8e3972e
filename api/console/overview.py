"""The console's overview: counts an operator checks first, with a chart where one helps."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from api.console.charts import stacked_bars
from api.console.i18n import labeller
from api.console.members import KINDS, STATUSES
from api.console.web import lang_of, page
from api.deps import Db
from registry.console import audit
from registry.members import stats


@get("/console", include_in_schema=False)
async def overview(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    label = labeller(lang_of(request))
    counts = await stats.count_by_kind_and_status(db)
    members = {kind: {status: counts.get((kind, status), 0) for status in STATUSES}
               for kind in KINDS}
    member_chart = stacked_bars(
        [(label(kind), [(status, members[kind][status]) for status in STATUSES])
         for kind in KINDS])
    return page(request, "console/overview.html", members=members, kinds=KINDS,
                statuses=STATUSES, member_chart=member_chart,
                member_total=sum(counts.values()))


@get("/console/audit", include_in_schema=False)
async def audit_trail(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    return page(request, "console/audit.html", entries=await audit.recent(db, limit=200))


ROUTES = [overview, audit_trail]
