"""Console sessions, kept server-side: the cookie carries a random 256-bit id, the table its hash.

A session ends at sign-out, after `idle` without a request, or at its absolute lifetime,
whichever comes first; each one carries its own CSRF synchronizer token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import msgspec

from registry.db import Connection


class ConsoleSession(msgspec.Struct, frozen=True):
    operator_id: str
    operator_name: str
    csrf_token: str
    role: str = "administrator"  # registry/console/staff.py


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def open_session(conn: Connection, operator_id: str, lifetime: timedelta) -> str:
    """A new session for the operator; returns the id to put in the cookie (shown once)."""
    session_id = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO console_sessions (id_hash, operator_id, csrf_token, expires_at)"
        " VALUES ($1, $2, $3, now() + $4)",
        _hash(session_id), operator_id, secrets.token_urlsafe(32), lifetime,
    )
    return session_id


_TOUCH = """
UPDATE console_sessions s SET last_seen_at = now()
FROM operators o
WHERE s.id_hash = $1 AND o.id = s.operator_id AND o.disabled_at IS NULL
  AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval
RETURNING s.operator_id, o.name, s.csrf_token, o.role
"""


async def resume_session(
    conn: Connection, session_id: str, idle: timedelta
) -> ConsoleSession | None:
    """The live session behind a cookie, its idle clock restarted; None when it has ended."""
    if not session_id or len(session_id) > 128:
        return None
    row = await conn.fetchrow(_TOUCH, _hash(session_id), idle)
    if row is None:
        await close_session(conn, session_id)
        return None
    return ConsoleSession(row["operator_id"], row["name"], row["csrf_token"], row["role"])


async def close_session(conn: Connection, session_id: str) -> None:
    await conn.execute("DELETE FROM console_sessions WHERE id_hash = $1", _hash(session_id))


async def purge_ended(conn: Connection, idle: timedelta) -> None:
    await conn.execute(
        "DELETE FROM console_sessions"
        " WHERE expires_at < now() OR last_seen_at < now() - $1::interval",
        idle,
    )
