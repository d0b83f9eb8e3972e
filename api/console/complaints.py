"""The operators' complaint queue (late first) and complaint-handling figures per lender and
agency (Articles 18, 22): what the association chases, and what evaluations weigh."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from api.console.web import page
from api.deps import Db
from registry.complaints import stats, store

QUEUE_SIZE = 100


@get("/console/complaints", include_in_schema=False)
async def complaint_queue(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    figures = await stats.figures(db)
    return page(request, "console/complaints.html",
                complaints=await store.queue(db, QUEUE_SIZE),
                as_principal=[f for f in figures if f.role == "principal"],
                as_user=[f for f in figures if f.role == "user"])


ROUTES = [complaint_queue]
