"""Association staff: who is an administrator or a reviewer, and who is disabled.

A reviewer works the queues (filings, risk events, intelligence) but may not admit
members, change a member's status or manage staff; those need an administrator. A
disabled operator can neither sign in to the console nor sign API requests (its keys are
revoked; enabling it again restores the console only: it is given a new key by the
command line).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from registry.db import Connection
from registry.errors import Conflict, Forbidden, NotFound

Role = Literal["administrator", "reviewer"]
ROLES: tuple[Role, ...] = ("administrator", "reviewer")


class StaffMember(msgspec.Struct, frozen=True):
    id: str
    name: str
    role: str
    login: str | None
    has_password: bool
    has_totp: bool
    created_at: datetime
    disabled_at: datetime | None


_LIST = """
SELECT o.id, o.name, o.role, o.created_at, o.disabled_at, c.login,
       c.password_hash IS NOT NULL AS has_password, c.totp_secret IS NOT NULL AS has_totp
FROM operators o LEFT JOIN operator_credentials c ON c.operator_id = o.id
ORDER BY o.disabled_at IS NOT NULL, o.created_at, o.id
"""


async def list_staff(conn: Connection) -> list[StaffMember]:
    return [StaffMember(r["id"], r["name"], r["role"], r["login"], r["has_password"],
                        r["has_totp"], r["created_at"], r["disabled_at"])
            for r in await conn.fetch(_LIST)]


async def role_of(conn: Connection, operator_id: str) -> str | None:
    """The operator's role, None when it is disabled or unknown."""
    role: str | None = await conn.fetchval(
        "SELECT role FROM operators WHERE id = $1 AND disabled_at IS NULL", operator_id)
    return role


async def require_administrator(conn: Connection, operator_id: str) -> None:
    if await role_of(conn, operator_id) != "administrator":
        raise Forbidden("only an administrator may do this; reviewers may not")


async def _other_active_administrators(conn: Connection, operator_id: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM operators WHERE role = 'administrator'"
        " AND disabled_at IS NULL AND id <> $1", operator_id)
    return count


async def _existing(conn: Connection, operator_id: str) -> None:
    if not await conn.fetchval("SELECT 1 FROM operators WHERE id = $1", operator_id):
        raise NotFound(f"no operator {operator_id}")


async def set_role(conn: Connection, operator_id: str, role: str) -> None:
    """Give an operator a role; the last active administrator stays one."""
    if role not in ROLES:
        raise Conflict(f"no role {role!r}", code="bad_role")
    await _existing(conn, operator_id)
    if role != "administrator" and not await _other_active_administrators(conn, operator_id):
        raise Conflict("the node keeps at least one active administrator",
                       code="last_administrator")
    await conn.execute("UPDATE operators SET role = $2 WHERE id = $1", operator_id, role)


async def disable(conn: Connection, operator_id: str) -> None:
    """No more console sessions or signed requests for this operator."""
    await _existing(conn, operator_id)
    if not await _other_active_administrators(conn, operator_id) and (
            await role_of(conn, operator_id) == "administrator"):
        raise Conflict("the node keeps at least one active administrator",
                       code="last_administrator")
    await conn.execute("UPDATE operators SET disabled_at = coalesce(disabled_at, now())"
                       " WHERE id = $1", operator_id)
    await conn.execute("DELETE FROM console_sessions WHERE operator_id = $1", operator_id)
    await conn.execute("UPDATE principal_keys SET revoked_at = now()"
                       " WHERE principal_id = $1 AND revoked_at IS NULL", operator_id)


async def enable(conn: Connection, operator_id: str) -> None:
    await _existing(conn, operator_id)
    await conn.execute("UPDATE operators SET disabled_at = NULL WHERE id = $1", operator_id)
