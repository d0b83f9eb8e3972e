"""Operator sign-in credentials: an argon2id password and a TOTP second factor (RFC 6238).

A code is accepted once only (the last accepted time step is kept), and repeated
failures from one client address lock that login for that address (registry/console/
lockout.py), so a guessed password is not enough, a watched code cannot be replayed, and
an outsider cannot keep staff out.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from urllib.parse import quote

import asyncpg
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from registry.console import lockout
from registry.console.sealing import seal, unseal
from registry.db import Connection
from registry.errors import Conflict, Invalid, NotFound, Unauthorized

# argon2id with the library's RFC 9106 defaults (64 MiB, 3 passes, 4 lanes).
_HASHER = PasswordHasher()
# Compared against when the login is unknown, so a miss costs as long as a hit.
_DUMMY_HASH = _HASHER.hash("no such operator: keeps timing flat")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
TOTP_STEP = 30
ISSUER = "Collection registry"


class SignInFailed(Unauthorized):
    """One answer for every failure, so a caller learns nothing about which part was wrong."""

    code = "sign_in_failed"

    def __init__(self, operator_id: str | None, why: str) -> None:
        super().__init__("sign-in failed")
        self.operator_id = operator_id
        self.why = why  # for the audit trail only, never shown


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid.field("password", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Invalid.field("password", f"at most {MAX_PASSWORD} characters")


async def _ensure_row(conn: Connection, operator_id: str, login: str | None) -> None:
    exists = await conn.fetchval("SELECT 1 FROM operators WHERE id = $1", operator_id)
    if exists is None:
        raise NotFound(f"no operator {operator_id}")
    try:
        await conn.execute(
            "INSERT INTO operator_credentials (operator_id, login) VALUES ($1, $2)"
            " ON CONFLICT (operator_id) DO UPDATE"
            " SET login = coalesce($3, operator_credentials.login), updated_at = now()",
            operator_id, login or operator_id, login,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"login {login} is taken", code="duplicate") from exc


async def set_password(
    conn: Connection, operator_id: str, password: str, login: str | None = None
) -> None:
    """Store an argon2id hash of `password`; also clears the login's lockouts."""
    check_password_strength(password)
    hashed = await asyncio.to_thread(_HASHER.hash, password)
    async with conn.transaction():
        await _ensure_row(conn, operator_id, login)
        account = await conn.fetchval(
            "UPDATE operator_credentials SET password_hash = $2, updated_at = now()"
            " WHERE operator_id = $1 RETURNING login",
            operator_id, hashed,
        )
        await lockout.clear(conn, account)


async def enroll_totp(
    conn: Connection, key: bytes, operator_id: str, login: str | None = None
) -> str:
    """Give the operator a new TOTP secret; returns its otpauth:// URI for an authenticator."""
    secret = pyotp.random_base32(32)
    async with conn.transaction():
        await _ensure_row(conn, operator_id, login)
        await conn.execute(
            "UPDATE operator_credentials SET totp_secret = $2, totp_last_step = 0,"
            " updated_at = now() WHERE operator_id = $1",
            operator_id, seal(key, secret),
        )
        account = await conn.fetchval(
            "SELECT login FROM operator_credentials WHERE operator_id = $1", operator_id)
    return pyotp.TOTP(secret).provisioning_uri(name=quote(str(account)), issuer_name=ISSUER)


def secret_of_uri(uri: str) -> str:
    """The base32 secret inside an otpauth URI (what an authenticator app reads)."""
    parsed = pyotp.parse_uri(uri)
    return str(parsed.secret)


def _matching_step(secret: str, code: str, now: float, after_step: int) -> int | None:
    totp = pyotp.TOTP(secret)
    current = int(now // TOTP_STEP)
    # One step of drift either way, as RFC 6238 §5.2 suggests; never a step already used.
    for step in (current - 1, current, current + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


async def _verify_password(hashed: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_HASHER.verify, hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(
    conn: Connection, key: bytes, login: str, password: str, code: str,
    now: float | None = None, client: str = "unknown",
) -> str:
    """The operator id behind `login` when password and code are right; else SignInFailed.

    `client` is the address the attempt comes from: failures lock (login, client) only.
    """
    now = time.time() if now is None else now
    login = login.strip()[:200]

    async def fail(operator_id: str | None, why: str) -> SignInFailed:
        await lockout.record_failure(conn, login, client)
        return SignInFailed(operator_id, why)

    locked = await lockout.is_locked(conn, login, client)
    row = await conn.fetchrow(
        "SELECT c.operator_id, c.password_hash, c.totp_secret, c.totp_last_step"
        " FROM operator_credentials c WHERE c.login = $1", login,
    )
    if row is None or row["password_hash"] is None:
        await _verify_password(_DUMMY_HASH, password)
        # unknown logins count too, so a lock tells nothing about which logins exist
        if locked:
            raise SignInFailed(None if row is None else row["operator_id"], "locked")
        raise await fail(None if row is None else row["operator_id"], "unknown login")
    operator_id: str = row["operator_id"]
    password_ok = await _verify_password(row["password_hash"], password)
    if locked:
        raise SignInFailed(operator_id, "locked")
    if not password_ok:
        raise await fail(operator_id, "wrong password")
    secret = unseal(key, row["totp_secret"]) if row["totp_secret"] else None
    if secret is None:
        raise await fail(operator_id, "no second factor enrolled")
    step = _matching_step(secret, code.strip(), now, row["totp_last_step"])
    if step is None:
        raise await fail(operator_id, "wrong code")
    # The compare-and-set makes a code good once even when two sign-ins race with it.
    taken = await conn.fetchval(
        "UPDATE operator_credentials SET totp_last_step = $2"
        " WHERE operator_id = $1 AND totp_last_step < $2 RETURNING 1",
        operator_id, step,
    )
    if taken is None:
        raise SignInFailed(operator_id, "code replayed")
    await lockout.clear(conn, login, client)
    if _HASHER.check_needs_rehash(row["password_hash"]):
        await set_password(conn, operator_id, password)
    return operator_id
