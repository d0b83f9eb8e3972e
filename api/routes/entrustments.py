"""Entrustments of collection agencies by lenders and debt buyers, and their supervision:
commitments, evaluations, rectifications (API.md §5, §11)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from api.deps import CurrentActor, Db, PageLimit
from api.guards import members_of_kind
from registry.entrustments import store, supervision
from registry.entrustments.model import (
    Commitments,
    CommitmentsCreate,
    Entrustment,
    EntrustmentCreate,
    EntrustmentEnd,
    EntrustmentPage,
    Evaluation,
    EvaluationCreate,
    Rectification,
    RectificationClose,
    RectificationCreate,
)

lenders_only = members_of_kind("lender", "debt_buyer")
agencies_only = members_of_kind("collection_agency")
_PARTIES = members_of_kind("lender", "debt_buyer", "collection_agency", operators=True)


class EntrustmentController(Controller):
    path = "/v1/entrustments"
    tags = ["entrustments"]
    guards = [_PARTIES]

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

    @post("/{entrustment_id:str}/commitments", operation_id="MakeCommitments",
          guards=[agencies_only])
    async def commit(
        self, db: Db, actor: CurrentActor, entrustment_id: FromPath[str],
        data: JSONBody[CommitmentsCreate],
    ) -> Commitments:
        """The entrusted agency's four written commitments (Article 17(二)), signed."""
        return await supervision.make_commitments(db, entrustment_id, data, actor)

    @post("/{entrustment_id:str}/evaluations", operation_id="EvaluateAgency",
          guards=[lenders_only])
    async def evaluate(
        self, db: Db, actor: CurrentActor, entrustment_id: FromPath[str],
        data: JSONBody[EvaluationCreate],
    ) -> Evaluation:
        """The lender's evaluation of its agency: grade and five scores (Article 18(二))."""
        return await supervision.add_evaluation(db, entrustment_id, data, actor)

    @post("/{entrustment_id:str}/rectifications", operation_id="OrderRectification",
          guards=[lenders_only])
    async def rectify(
        self, db: Db, actor: CurrentActor, entrustment_id: FromPath[str],
        data: JSONBody[RectificationCreate],
    ) -> Rectification:
        """The lender orders a rectification with a deadline (Article 18(四))."""
        return await supervision.open_rectification(db, entrustment_id, data, actor)


class RectificationController(Controller):
    path = "/v1/rectifications"
    tags = ["entrustments"]
    guards = [_PARTIES]

    @get("/{rectification_id:str}", operation_id="GetRectification")
    async def get(
        self, db: Db, actor: CurrentActor, rectification_id: FromPath[str]
    ) -> Rectification:
        return await supervision.get_rectification(db, rectification_id, actor)

    @post("/{rectification_id:str}/close", operation_id="CloseRectification",
          guards=[lenders_only], status_code=HTTP_200_OK)
    async def close(
        self, db: Db, actor: CurrentActor, rectification_id: FromPath[str],
        data: JSONBody[RectificationClose],
    ) -> Rectification:
        """`failed` ends the entrustment at once (Article 18(四)3)."""
        return await supervision.close_rectification(db, rectification_id, data, actor)
