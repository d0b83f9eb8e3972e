"""Black-market intelligence: groups, sightings, matching and the STIX export (API.md §7)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.deps import CurrentActor, Db, Node, PageLimit
from api.guards import READ_ONLY
from registry.blackmarket import stix, store
from registry.blackmarket.model import (
    Group,
    GroupCategory,
    GroupCreate,
    GroupPage,
    IndicatorsAdd,
    MatchRequest,
    MatchResult,
    Sighting,
    SightingCreate,
)


class BlackmarketController(Controller):
    path = "/v1/blackmarket"
    tags = ["blackmarket"]

    @post("/groups", operation_id="ReportBlackmarketGroup")
    async def create_group(
        self, db: Db, actor: CurrentActor, data: JSONBody[GroupCreate]
    ) -> Group:
        return await store.create_group(db, data, actor)

    @get("/groups", operation_id="ListBlackmarketGroups")
    async def list_groups(
        self, db: Db, actor: CurrentActor,
        category: FromQuery[GroupCategory | None] = None, cursor: FromQuery[str | None] = None,
        limit: PageLimit = 50,
    ) -> GroupPage:
        return await store.list_groups(db, actor, category=category, cursor=cursor, limit=limit)

    @get("/groups/{group_id:str}", operation_id="GetBlackmarketGroup")
    async def get_group(self, db: Db, actor: CurrentActor, group_id: FromPath[str]) -> Group:
        return await store.get_group(db, group_id, actor)

    @post("/groups/{group_id:str}/indicators", operation_id="AddBlackmarketIndicators",
          status_code=HTTP_200_OK)
    async def add_indicators(
        self, db: Db, actor: CurrentActor, group_id: FromPath[str],
        data: JSONBody[IndicatorsAdd],
    ) -> Group:
        return await store.add_indicators(db, group_id, data.indicators, actor)

    @post("/sightings", operation_id="ReportBlackmarketSighting")
    async def sighting(
        self, db: Db, actor: CurrentActor, data: JSONBody[SightingCreate]
    ) -> Sighting:
        return await store.add_sighting(db, data, actor)

    @post("/match", operation_id="MatchBlackmarketIndicators", status_code=HTTP_200_OK,
          opt={READ_ONLY: True})
    async def match(
        self, db: Db, actor: CurrentActor, data: JSONBody[MatchRequest]
    ) -> MatchResult:
        return await store.match(db, data.indicators, actor)

    @get("/export", operation_id="ExportBlackmarketStix")
    async def export(self, db: Db, node: Node) -> Response[bytes]:
        """The green intelligence as a STIX 2.1 bundle."""
        bundle = await stix.green_bundle(db, node.node_id)
        return Response(msgspec.json.encode(bundle), media_type=stix.MEDIA_TYPE)
