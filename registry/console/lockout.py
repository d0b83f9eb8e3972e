"""Console sign-in lockout, per (login, client address): after MAX_FAILURES failures in a row
that pair is locked, each lock in a row twice as long as the one before (LOCKOUT up to
MAX_LOCKOUT). A lock that runs out gives a fresh count; a quiet day forgets the pair.

Keyed by the pair, an outsider who knows a login locks out only itself: the operator signing
in from another address is never kept out. IPv6 clients count by /64, the block one host
usually holds, so rotating addresses inside it does not buy fresh attempts.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from registry.db import Connection

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MAX_LOCKOUT = timedelta(hours=24)
QUIET = timedelta(hours=24)

_LOCKED = """
SELECT 1 FROM sign_in_failures WHERE login = $1 AND client = $2 AND locked_until > now()
"""
_STATE = """
SELECT failures, lockouts, locked_until, last_failure, now() AS now
FROM sign_in_failures WHERE login = $1 AND client = $2 FOR UPDATE
"""
_SAVE = """
INSERT INTO sign_in_failures (login, client, failures, lockouts, locked_until, last_failure)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (login, client) DO UPDATE SET failures = $3, lockouts = $4, locked_until = $5,
    last_failure = now()
"""


def client_key(address: str) -> str:
    """The address a client is counted by: IPv4 as it is, IPv6 as its /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]  # "unknown", or a test client's name
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


async def is_locked(conn: Connection, login: str, client: str) -> bool:
    return await conn.fetchval(_LOCKED, login, client_key(client)) is not None


async def record_failure(conn: Connection, login: str, client: str) -> None:
    """Count one failure of `login` from `client`; the fifth in a row locks the pair."""
    key = client_key(client)
    async with conn.transaction():
        row = await conn.fetchrow(_STATE, login, key)
        failures, lockouts, locked_until = 0, 0, None
        if row is not None:
            now: datetime = row["now"]
            if now - row["last_failure"] <= QUIET:
                failures, lockouts, locked_until = (
                    row["failures"], row["lockouts"], row["locked_until"])
            if locked_until is not None and locked_until <= now:
                failures, locked_until = 0, None  # the lock ran out: a fresh count
        failures += 1
        if failures >= MAX_FAILURES and locked_until is None:
            length = min(LOCKOUT * 2**lockouts, MAX_LOCKOUT)
            locked_until = await conn.fetchval("SELECT now() + $1::interval", length)
            lockouts += 1
        await conn.execute(_SAVE, login, key, failures, lockouts, locked_until)


async def clear(conn: Connection, login: str, client: str | None = None) -> None:
    """After a sign-in from `client` (that pair only), or a new password (every pair)."""
    if client is None:
        await conn.execute("DELETE FROM sign_in_failures WHERE login = $1", login)
    else:
        await conn.execute("DELETE FROM sign_in_failures WHERE login = $1 AND client = $2",
                           login, client_key(client))


async def purge(conn: Connection) -> None:
    """Forget pairs quiet for a day whose lock has run out (housekeeping)."""
    await conn.execute(
        "DELETE FROM sign_in_failures WHERE last_failure < now() - $1::interval"
        " AND (locked_until IS NULL OR locked_until < now())", QUIET)
