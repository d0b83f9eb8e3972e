"""Collection resources (API.md §6): carriers supply, assignees confirm, lenders file."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.deps import CurrentActor, Db
from api.guards import members_of_kind
from registry.resources import store
from registry.resources.model import (
    ConfirmBatch,
    Filing,
    FilingCreate,
    Ids,
    Resource,
    ResourceChange,
    ResourceSupply,
    SupplyBatch,
)

carriers_only = members_of_kind("carrier")
lenders_only = members_of_kind("lender", "debt_buyer")


class ResourceController(Controller):
    path = "/v1/resources"
    tags = ["resources"]

    @post("/", operation_id="SupplyResource", guards=[carriers_only])
    async def supply(
        self, db: Db, actor: CurrentActor, data: JSONBody[ResourceSupply]
    ) -> Resource:
        return (await store.supply(db, [data], actor, batch=False))[0]

    @post("/batch", operation_id="SupplyResources", guards=[carriers_only])
    async def supply_batch(
        self, db: Db, actor: CurrentActor, data: JSONBody[SupplyBatch]
    ) -> Ids:
        made = await store.supply(db, data.items, actor, batch=True)
        return Ids([r.id for r in made])

    @post("/confirm", operation_id="ConfirmResources", status_code=HTTP_200_OK)
    async def confirm_batch(
        self, db: Db, actor: CurrentActor, data: JSONBody[ConfirmBatch]
    ) -> Ids:
        await store.confirm(db, data.ids, actor, batch=True)
        return Ids(data.ids)

    @get("/{resource_id:str}", operation_id="GetResource")
    async def get(self, db: Db, actor: CurrentActor, resource_id: FromPath[str]) -> Resource:
        return await store.get_resource(db, resource_id, actor)

    @patch("/{resource_id:str}", operation_id="ChangeSupply", guards=[carriers_only])
    async def change(
        self, db: Db, actor: CurrentActor, resource_id: FromPath[str],
        data: JSONBody[ResourceChange],
    ) -> Resource:
        return await store.change_supply(db, resource_id, data, actor)

    @post("/{resource_id:str}/confirm", operation_id="ConfirmResource",
          status_code=HTTP_200_OK)
    async def confirm(self, db: Db, actor: CurrentActor, resource_id: FromPath[str]) -> Resource:
        await store.confirm(db, [resource_id], actor, batch=False)
        return await store.fetch(db, resource_id)

    @post("/{resource_id:str}/filings", operation_id="FileResource", guards=[lenders_only])
    async def file(
        self, db: Db, actor: CurrentActor, resource_id: FromPath[str],
        data: JSONBody[FilingCreate],
    ) -> Filing:
        return await store.file(db, resource_id, data.entrustment_id, actor)
