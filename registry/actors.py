"""Who is acting: the verified principal behind a request, and the evidence of its writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from registry.db import Connection

Role = Literal["member", "operator", "node"]


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    role: Role
    member_kind: str | None = None
    status: str | None = None
    # The signed request this actor made: kept with every write it causes (API.md §2).
    token: str | None = None
    jti: str | None = None
    method: str = ""
    path: str = ""

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


async def record_evidence(
    conn: Connection, actor: Actor, record_type: str, record_id: str
) -> None:
    """Keep the token that authorised a write beside the record it wrote."""
    if actor.token is None:
        return
    await conn.execute(
        "INSERT INTO write_evidence"
        " (principal_id, jti, token, method, path, record_type, record_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        actor.id, actor.jti or "", actor.token, actor.method, actor.path, record_type, record_id,
    )


async def record_batch_evidence(
    conn: Connection, actor: Actor, record_type: str, record_ids: Sequence[str]
) -> None:
    """One evidence row for a request that wrote many records (a batch): the token once,
    with every record it wrote. Find a record's evidence by record_id or in record_ids."""
    if actor.token is None or not record_ids:
        return
    if len(record_ids) == 1:
        await record_evidence(conn, actor, record_type, record_ids[0])
        return
    await conn.execute(
        "INSERT INTO write_evidence"
        " (principal_id, jti, token, method, path, record_type, record_id, record_ids)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        actor.id, actor.jti or "", actor.token, actor.method, actor.path, record_type,
        record_ids[0], list(record_ids),
    )
