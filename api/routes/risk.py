"""Major risk-event reports (guideline Article 24, API.md §7) and their export for regulators."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.console.i18n import labeller
from api.deps import CurrentActor, Db, PageLimit
from api.guards import members_of_kind, operator_only
from registry.console.names import names_of
from registry.excel_csv import MEDIA_TYPE
from registry.risk import export, store
from registry.risk.model import (
    RiskCategory,
    RiskEvent,
    RiskEventCreate,
    RiskEventPage,
    RiskForward,
    RiskUpdateCreate,
)

_ANY_MEMBER = members_of_kind("lender", "debt_buyer", "collection_agency", "carrier")


class RiskEventController(Controller):
    path = "/v1/risk-events"
    tags = ["risk"]

    @post("/", operation_id="ReportRiskEvent", guards=[_ANY_MEMBER])
    async def create(
        self, db: Db, actor: CurrentActor, data: JSONBody[RiskEventCreate]
    ) -> RiskEvent:
        return await store.create_event(db, data, actor)

    @get("/", operation_id="ListRiskEvents")
    async def list(
        self, db: Db, actor: CurrentActor,
        category: FromQuery[RiskCategory | None] = None, late: FromQuery[bool | None] = None,
        reporter_id: FromQuery[str | None] = None, incomplete: FromQuery[bool | None] = None,
        cursor: FromQuery[str | None] = None, limit: PageLimit = 50,
    ) -> RiskEventPage:
        """Operators: every report, late ones first. Members: their own, and a lender the
        personal-data breaches its agencies report (Article 21(二))."""
        return await store.list_events(
            db, actor, category=category, late=late, reporter_id=reporter_id,
            incomplete=incomplete, cursor=cursor, limit=limit,
        )

    @get("/export", operation_id="ExportRiskEventsCsv", guards=[operator_only])
    async def export(
        self, db: Db,
        since: FromQuery[datetime | None] = None, until: FromQuery[datetime | None] = None,
    ) -> Response[bytes]:
        """Reports received in [since, until) as CSV for the financial regulators: Chinese
        headers, Beijing times, names beside ids, a BOM so that Excel reads it as UTF-8."""
        events = await store.events_between(db, since, until)
        names = await names_of(db, export.principals_named(events))
        return Response(
            export.to_csv(events, names, labeller("zh")), media_type=MEDIA_TYPE,
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

    @post("/{event_id:str}/acknowledge", operation_id="AcknowledgeRiskEvent",
          guards=[operator_only], status_code=HTTP_200_OK)
    async def acknowledge(
        self, db: Db, actor: CurrentActor, event_id: FromPath[str]
    ) -> RiskEvent:
        """The association has read the report (who and when are kept)."""
        return await store.follow_up(db, event_id, actor)

    @post("/{event_id:str}/forward", operation_id="ForwardRiskEvent", guards=[operator_only],
          status_code=HTTP_200_OK)
    async def forward(
        self, db: Db, actor: CurrentActor, event_id: FromPath[str], data: JSONBody[RiskForward]
    ) -> RiskEvent:
        """The association forwarded the report to the regulator (Article 24(二))."""
        return await store.follow_up(db, event_id, actor, forward=data)
