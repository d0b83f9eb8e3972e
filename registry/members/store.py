"""Member storage: every write takes one transaction with its change-log entry and evidence."""

from __future__ import annotations

import asyncpg
import msgspec

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.db import Connection
from registry.entrustments.rules import today
from registry.entrustments.store import entrusting_lenders
from registry.errors import Conflict, NotFound
from registry.events import model as events
from registry.events.outbox import emit
from registry.ids import new_id
from registry.keys import public_jwk
from registry.members import rules
from registry.members.model import (
    Complaints,
    Contact,
    DisclosureChange,
    Member,
    MemberCreate,
    MemberPage,
    MemberPatch,
    MemberRecord,
    PublicKey,
    StatusChange,
    StatusEvent,
)
from registry.paging import decode_time_cursor, time_cursor
from registry.records import check_reason, refuse_foreign

RECORD_TYPE = "member"

_SELECT_MEMBER = """
SELECT m.id, m.origin, m.kind, m.subtype, m.name, m.uscc, m.contact, m.complaints,
       m.status, m.created_at, m.disclosure_history
FROM members m
"""


def _member(row: asyncpg.Record) -> Member:
    return Member(
        id=row["id"], origin=row["origin"], kind=row["kind"], subtype=row["subtype"],
        name=row["name"], uscc=row["uscc"],
        contact=msgspec.convert(row["contact"], Contact),
        complaints=msgspec.convert(row["complaints"], Complaints),
        status=row["status"], created_at=row["created_at"],
        disclosure_history=msgspec.convert(row["disclosure_history"], list[DisclosureChange]),
    )


def log_data(member: Member) -> MemberRecord:
    """What the change log carries: the member without its keys, which stay at home."""
    return MemberRecord(**{f: getattr(member, f) for f in MemberRecord.__struct_fields__})


# Members with their history and keys in one round trip.
_SELECT_FULL_MEMBER = """
SELECT m.id, m.origin, m.kind, m.subtype, m.name, m.uscc, m.contact, m.complaints,
       m.status, m.created_at, m.disclosure_history,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'status', h.status, 'reason', h.reason, 'at', h.at, 'by', h.by) ORDER BY h.n),
                '[]')
        FROM member_status_history h WHERE h.member_id = m.id) AS history,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'kid', k.kid, 'jwk', k.jwk, 'added_at', k.added_at,
                'revoked_at', k.revoked_at) ORDER BY k.added_at, k.kid), '[]')
        FROM principal_keys k WHERE k.principal_id = m.id) AS keys
FROM members m
"""


def _full_member(row: asyncpg.Record) -> Member:
    member = _member(row)
    member.history = msgspec.convert(row["history"], list[StatusEvent])
    member.keys = msgspec.convert(row["keys"], list[PublicKey])
    return member


async def get_member(conn: Connection, member_id: str) -> Member:
    row = await conn.fetchrow(_SELECT_FULL_MEMBER + " WHERE m.id = $1", member_id)
    if row is None:
        raise NotFound(f"no member {member_id}")
    return _full_member(row)


async def all_members(conn: Connection) -> list[Member]:
    """Every member with its history and keys, oldest first (the staff's export)."""
    rows = await conn.fetch(_SELECT_FULL_MEMBER + " ORDER BY m.created_at, m.id")
    return [_full_member(r) for r in rows]


async def create_member(conn: Connection, data: MemberCreate, actor: Actor) -> Member:
    rules.check_new_member(data)
    keys = [public_jwk(k, f"keys[{i}]") for i, k in enumerate(data.keys)]
    member_id = new_id("m")
    async with conn.transaction():
        origin = await changelog.node_id(conn)
        try:
            await conn.execute(
                "INSERT INTO members (id, origin, kind, subtype, name, uscc, contact, complaints,"
                " status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')",
                member_id, origin, data.kind, data.subtype, data.name.strip(), data.uscc,
                msgspec.to_builtins(data.contact), msgspec.to_builtins(data.complaints),
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a member with uscc {data.uscc} exists", code="duplicate") from exc
        await _add_history(conn, member_id, "pending", "application recorded", actor.id)
        for key in keys:
            await conn.execute(
                "INSERT INTO principal_keys (principal_id, kid, jwk) VALUES ($1, $2, $3)",
                member_id, key["kid"], key,
            )
        member = await get_member(conn, member_id)
        await changelog.append_one(conn, RECORD_TYPE, member_id, log_data(member))
        await record_evidence(conn, actor, RECORD_TYPE, member_id)
    return member


async def _add_history(
    conn: Connection, member_id: str, status: str, reason: str, by: str
) -> None:
    await conn.execute(
        "INSERT INTO member_status_history (member_id, n, status, reason, by)"
        " SELECT $1, coalesce(max(n), 0) + 1, $2, $3, $4"
        " FROM member_status_history WHERE member_id = $1",
        member_id, status, reason, by,
    )


async def _lock_home_member(conn: Connection, member_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT m.status, m.origin, n.node_id FROM members m, node_identity n"
        " WHERE m.id = $1 FOR UPDATE OF m", member_id,
    )
    if row is None:
        raise NotFound(f"no member {member_id}")
    refuse_foreign(row["origin"], row["node_id"], f"member {member_id}")
    return row


async def set_status(
    conn: Connection, member_id: str, change: StatusChange, actor: Actor
) -> Member:
    reason = check_reason(change.reason)
    async with conn.transaction():
        row = await _lock_home_member(conn, member_id)
        rules.check_transition(row["status"], change.status)
        rules.check_admission(await get_member(conn, member_id), change.status)
        await conn.execute(
            "UPDATE members SET status = $2, updated_at = now() WHERE id = $1",
            member_id, change.status,
        )
        await _add_history(conn, member_id, change.status, reason, actor.id)
        member = await get_member(conn, member_id)
        await changelog.append_one(conn, RECORD_TYPE, member_id, log_data(member))
        await record_evidence(conn, actor, RECORD_TYPE, member_id)
        # The member itself, and every lender that entrusts it now (Art. 17, 18).
        await emit(conn, events.MEMBER_STATUS_CHANGED, events.EventSubject(RECORD_TYPE, member_id),
                   events.MemberStatusChanged(member_id=member_id, name=member.name,
                                              kind=member.kind, status=member.status,
                                              reason=reason),
                   [member_id, *await entrusting_lenders(conn, member_id, today())])
    return member


async def update_disclosure(
    conn: Connection, member_id: str, patch: MemberPatch, actor: Actor
) -> Member:
    """API.md §10: the new values take effect at once; each change is kept with who and when."""
    async with conn.transaction():
        await _lock_home_member(conn, member_id)
        member = await get_member(conn, member_id)
        rules.check_patch(member, patch, actor.is_operator)
        after, changed = rules.patched(member, patch)
        if not changed:
            return member
        change = {"at": (await conn.fetchval("SELECT now()")).isoformat(), "by": actor.id,
                  "fields": changed}
        await conn.execute(
            """UPDATE members SET name = $2, subtype = $3, contact = $4, complaints = $5,
                   disclosure_history = disclosure_history || jsonb_build_array($6::jsonb),
                   updated_at = now()
               WHERE id = $1""",
            member_id, after["name"], after["subtype"], after["contact"], after["complaints"],
            change,
        )
        member = await get_member(conn, member_id)
        await changelog.append_one(conn, RECORD_TYPE, member_id, log_data(member))
        await record_evidence(conn, actor, RECORD_TYPE, member_id)
    return member


async def add_key(
    conn: Connection, member_id: str, jwk: object, actor: Actor
) -> PublicKey:
    key = public_jwk(jwk, "jwk")
    async with conn.transaction():
        await _lock_home_member(conn, member_id)
        try:
            row = await conn.fetchrow(
                "INSERT INTO principal_keys (principal_id, kid, jwk) VALUES ($1, $2, $3)"
                " RETURNING kid, jwk, added_at, revoked_at",
                member_id, key["kid"], key,
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"key {key['kid']} exists", code="duplicate") from exc
        assert row is not None
        await record_evidence(conn, actor, "member_key", f"{member_id}/{key['kid']}")
    return PublicKey(row["kid"], row["jwk"], row["added_at"], row["revoked_at"])


async def revoke_key(conn: Connection, member_id: str, kid: str, actor: Actor) -> None:
    async with conn.transaction():
        await _lock_home_member(conn, member_id)
        done = await conn.fetchval(
            "UPDATE principal_keys SET revoked_at = now()"
            " WHERE principal_id = $1 AND kid = $2 AND revoked_at IS NULL RETURNING kid",
            member_id, kid,
        )
        if done is None:
            raise NotFound(f"member {member_id} has no active key {kid}")
        await record_evidence(conn, actor, "member_key", f"{member_id}/{kid}")


async def list_members(
    conn: Connection, *, kind: str | None = None, status: str | None = None,
    q: str | None = None, cursor: str | None = None, limit: int = 50,
    kinds: list[str] | None = None,
) -> MemberPage:
    after_at, after_id = decode_time_cursor(cursor)
    pattern = None
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    rows = await conn.fetch(
        _SELECT_MEMBER
        + """ WHERE ($1::text IS NULL OR m.kind = $1)
          AND ($2::text IS NULL OR m.status = $2)
          AND ($3::text IS NULL OR m.name ILIKE $3 OR m.uscc = upper($4))
          AND ($5::timestamptz IS NULL OR (m.created_at, m.id) > ($5, $6))
          AND ($8::text[] IS NULL OR m.kind = ANY($8))
        ORDER BY m.created_at, m.id LIMIT $7""",
        kind, status, pattern, q, after_at, after_id, limit + 1, kinds,
    )
    items = [_member(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = time_cursor(last.created_at, last.id)
    return MemberPage(items, next_cursor)


async def apply_remote(
    conn: Connection, origin: str, member_id: str, member: MemberRecord
) -> None:
    """Hold a peer's member as its home node last logged it; its history only with it."""
    held = await conn.fetchval(
        """INSERT INTO members (id, origin, kind, subtype, name, uscc, contact, complaints,
                                status, created_at, updated_at, disclosure_history)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), $11)
           ON CONFLICT (id) DO UPDATE SET kind = $3, subtype = $4, name = $5, uscc = $6,
               contact = $7, complaints = $8, status = $9, updated_at = now(),
               disclosure_history = $11
           WHERE members.origin = $2
           RETURNING id""",
        member_id, origin, member.kind, member.subtype, member.name, member.uscc,
        msgspec.to_builtins(member.contact), msgspec.to_builtins(member.complaints),
        member.status, member.created_at, msgspec.to_builtins(member.disclosure_history),
    )
    if held is None:
        return  # another origin's member: not this peer's to change, nor its history
    await conn.execute("DELETE FROM member_status_history WHERE member_id = $1", member_id)
    await conn.executemany(
        "INSERT INTO member_status_history (member_id, n, status, reason, at, by)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(member_id, n, e.status, e.reason, e.at, e.by)
         for n, e in enumerate(member.history, start=1)],
    )
