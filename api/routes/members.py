"""Members: admission, reading, status and keys (API.md §4)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from api.deps import CurrentActor, Db, PageLimit
from api.guards import DISARMING, PENDING_MAY, operator_only
from registry.actors import Actor
from registry.console import staff
from registry.errors import Forbidden
from registry.members import store
from registry.members.model import (
    Member,
    MemberCreate,
    MemberPage,
    MemberPatch,
    PublicKey,
    StatusChange,
)


class MemberController(Controller):
    path = "/v1/members"
    tags = ["members"]

    @post("/", operation_id="CreateMember", guards=[operator_only])
    async def create(self, db: Db, actor: CurrentActor, data: JSONBody[MemberCreate]) -> Member:
        await staff.require_administrator(db, actor.id)
        return await store.create_member(db, data, actor)

    @get("/", operation_id="ListMembers")
    async def list(
        self, db: Db,
        kind: FromQuery[str | None] = None, status: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None, cursor: FromQuery[str | None] = None,
        limit: PageLimit = 50,
    ) -> MemberPage:
        return await store.list_members(
            db, kind=kind, status=status, q=q, cursor=cursor, limit=limit
        )

    @get("/{member_id:str}", operation_id="GetMember")
    async def get(self, db: Db, member_id: FromPath[str]) -> Member:
        return await store.get_member(db, member_id)

    @patch("/{member_id:str}", operation_id="UpdateMemberDisclosure", opt={PENDING_MAY: True})
    async def update(
        self, db: Db, actor: CurrentActor, member_id: FromPath[str], data: JSONBody[MemberPatch]
    ) -> Member:
        """Keep a disclosure current (API.md §10): the member itself or an operator."""
        _own_or_operator(actor, member_id)
        return await store.update_disclosure(db, member_id, data, actor)

    @post("/{member_id:str}/status", operation_id="SetMemberStatus", guards=[operator_only],
          status_code=HTTP_200_OK)
    async def set_status(
        self, db: Db, actor: CurrentActor, member_id: FromPath[str], data: JSONBody[StatusChange]
    ) -> Member:
        await staff.require_administrator(db, actor.id)
        return await store.set_status(db, member_id, data, actor)

    @post("/{member_id:str}/keys", operation_id="AddMemberKey", opt={PENDING_MAY: True})
    async def add_key(
        self, db: Db, actor: CurrentActor, member_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> PublicKey:
        _own_or_operator(actor, member_id)
        return await store.add_key(db, member_id, data, actor)

    @delete("/{member_id:str}/keys/{kid:str}", operation_id="RevokeMemberKey",
            status_code=HTTP_204_NO_CONTENT, opt={DISARMING: True, PENDING_MAY: True})
    async def revoke_key(
        self, db: Db, actor: CurrentActor, member_id: FromPath[str], kid: FromPath[str]
    ) -> None:
        _own_or_operator(actor, member_id)
        await store.revoke_key(db, member_id, kid, actor)


def _own_or_operator(actor: Actor, member_id: str) -> None:
    if not (actor.is_operator or actor.id == member_id):
        raise Forbidden("only the member itself or an operator may do this")
