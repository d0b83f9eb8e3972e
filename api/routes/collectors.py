"""Collector filings, their review, and collector checks (API.md §7, guideline Art. 6(二)4).

Request bodies here carry id numbers: they are decoded into structs and handed to the
domain, never logged; the answers carry masked forms only.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from api.deps import CurrentActor, Db, Node, PageLimit
from api.guards import READ_ONLY, members_of_kind, operator_only
from api.state import NodeState
from registry.collectors import checks, store, subject_hash
from registry.collectors.model import (
    CheckAuditPage,
    CheckResult,
    CollectorCheck,
    CollectorFiling,
    CollectorFilingCreate,
    FilingPage,
    FilingStatus,
    Review,
    Revocation,
)
from registry.collectors.subject_hash import SubjectKeys

_KEYS = "collector_subject_keys"


def subject_keys(node: NodeState) -> SubjectKeys:
    """The node's collector HMAC keys, read from data_dir/secrets once per worker."""
    keys: SubjectKeys | None = node.extras.get(_KEYS)
    if keys is None:
        keys = subject_hash.load(node.settings.data_dir / "secrets")
        node.extras[_KEYS] = keys
    return keys


class CollectorFilingController(Controller):
    path = "/v1/collector-filings"
    tags = ["collectors"]

    @post("/", operation_id="FileCollector",
          guards=[members_of_kind("lender", "debt_buyer", "collection_agency")])
    async def create(
        self, db: Db, actor: CurrentActor, node: Node, data: JSONBody[CollectorFilingCreate]
    ) -> CollectorFiling:
        return await store.create_filing(db, subject_keys(node), data, actor)

    @get("/", operation_id="ListCollectorFilings")
    async def list(
        self, db: Db, actor: CurrentActor,
        status: FromQuery[FilingStatus | None] = None, cursor: FromQuery[str | None] = None,
        limit: PageLimit = 50,
    ) -> FilingPage:
        """Operators: the review queue (every filing, by status). Members: their own."""
        return await store.list_filings(db, actor, status=status, cursor=cursor, limit=limit)

    @get("/{filing_id:str}", operation_id="GetCollectorFiling")
    async def get(self, db: Db, actor: CurrentActor, filing_id: FromPath[str]) -> CollectorFiling:
        return await store.get_filing(db, filing_id, actor)

    @post("/{filing_id:str}/review", operation_id="ReviewCollectorFiling",
          guards=[operator_only], status_code=HTTP_200_OK)
    async def review(
        self, db: Db, actor: CurrentActor, node: Node, filing_id: FromPath[str],
        data: JSONBody[Review],
    ) -> CollectorFiling:
        years = node.settings.collector_filing_years
        return await store.review(db, filing_id, data, actor, years)

    @post("/{filing_id:str}/revoke", operation_id="RevokeCollectorFiling",
          guards=[operator_only], status_code=HTTP_200_OK)
    async def revoke(
        self, db: Db, actor: CurrentActor, filing_id: FromPath[str], data: JSONBody[Revocation]
    ) -> CollectorFiling:
        return await store.revoke(db, filing_id, data, actor)


class CollectorCheckController(Controller):
    path = "/v1/collector-checks"
    tags = ["collectors"]

    @post("/", operation_id="CheckCollector", status_code=HTTP_200_OK, opt={READ_ONLY: True})
    async def check(
        self, db: Db, actor: CurrentActor, node: Node, data: JSONBody[CollectorCheck]
    ) -> CheckResult:
        per_minute = node.settings.collector_checks_per_minute
        return await checks.check(db, subject_keys(node), data, actor, per_minute)

    @get("/audit", operation_id="ListCollectorCheckAudit", guards=[operator_only])
    async def audit(
        self, db: Db,
        checker_id: FromQuery[str | None] = None, cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> CheckAuditPage:
        return await checks.list_audit(db, checker_id=checker_id, cursor=cursor, limit=limit)
