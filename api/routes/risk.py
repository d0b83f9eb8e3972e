"""Major risk-event reports (guideline Article 24, API.md §7) and their export for regulators."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.deps import CurrentActor, Db, PageLimit
from api.guards import member_or_operator, members_of_kind, operator_only
from registry.risk import export, store
from registry.risk.model import (
    RiskCategory,
    RiskEvent,
    RiskEventCreate,
    RiskEventPage,
    RiskUpdateCreate,
)

_ANY_MEMBER = members_of_kind("lender", "debt_buyer", "collection_agency", "carrier")


class RiskEventController(Controller):
    path = "/v1/risk-events"
    tags = ["risk"]
    guards = [member_or_operator]

    @post("/", operation_id="ReportRiskEvent", guards=[_ANY_MEMBER])
    async def create(
        self, db: Db, actor: CurrentActor, data: JSONBody[RiskEventCreate]
    ) -> RiskEvent:
        return await store.create_event(db, data, actor)

    @get("/", operation_id="ListRiskEvents")
    async def list(
        self, db: Db, actor: CurrentActor,
        category: FromQuery[RiskCategory | None] = None, late: FromQuery[bool | None] = None,
        reporter_id: FromQuery[str | None] = None, cursor: FromQuery[str | None] = None,
        limit: PageLimit = 50,
    ) -> RiskEventPage:
        """Operators: every report, late ones first. Members: their own."""
        return await store.list_events(
            db, actor, category=category, late=late, reporter_id=reporter_id, cursor=cursor,
            limit=limit,
        )

    @get("/export", operation_id="ExportRiskEventsCsv", guards=[operator_only])
    async def export(
        self, db: Db,
        since: FromQuery[datetime | None] = None, until: FromQuery[datetime | None] = None,
    ) -> Response[str]:
        """Reports received in [since, until) as CSV, for the financial regulators."""
        events = await store.events_between(db, since, until)
        return Response(
            export.to_csv(events), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="risk-events.csv"'},
        )

    @get("/{event_id:str}", operation_id="GetRiskEvent")
    async def get(self, db: Db, actor: CurrentActor, event_id: FromPath[str]) -> RiskEvent:
        return await store.get_event(db, event_id, actor)

    @post("/{event_id:str}/updates", operation_id="UpdateRiskEvent", guards=[_ANY_MEMBER],
          status_code=HTTP_200_OK)
    async def update(
        self, db: Db, actor: CurrentActor, event_id: FromPath[str],
        data: JSONBody[RiskUpdateCreate],
    ) -> RiskEvent:
        return await store.add_update(db, event_id, data, actor)
