"""Entrustments of collection agencies by lenders and debt buyers (API.md §5)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.deps import CurrentActor, Db, PageLimit
from api.guards import members_of_kind
from registry.entrustments import store
from registry.entrustments.model import (
    Entrustment,
    EntrustmentCreate,
    EntrustmentEnd,
    EntrustmentPage,
)

lenders_only = members_of_kind("lender", "debt_buyer")


class EntrustmentController(Controller):
    path = "/v1/entrustments"
    tags = ["entrustments"]
    guards = [members_of_kind("lender", "debt_buyer", "collection_agency", operators=True)]

    @post("/", operation_id="CreateEntrustment", guards=[lenders_only])
    async def create(
        self, db: Db, actor: CurrentActor, data: JSONBody[EntrustmentCreate]
    ) -> Entrustment:
        return await store.create_entrustment(db, data, actor)

    @get("/", operation_id="ListEntrustments")
    async def list(
        self, db: Db, actor: CurrentActor,
        lender_id: FromQuery[str | None] = None, agency_id: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: PageLimit = 50,
    ) -> EntrustmentPage:
        return await store.list_entrustments(
            db, actor, lender_id=lender_id, agency_id=agency_id, cursor=cursor, limit=limit
        )

    @get("/{entrustment_id:str}", operation_id="GetEntrustment")
    async def get(
        self, db: Db, actor: CurrentActor, entrustment_id: FromPath[str]
    ) -> Entrustment:
        return await store.get_entrustment(db, entrustment_id, actor)

    @post("/{entrustment_id:str}/end", operation_id="EndEntrustment", guards=[lenders_only],
          status_code=HTTP_200_OK)
    async def end(
        self, db: Db, actor: CurrentActor, entrustment_id: FromPath[str],
        data: JSONBody[EntrustmentEnd],
    ) -> Entrustment:
        return await store.end_entrustment(db, entrustment_id, data, actor)
