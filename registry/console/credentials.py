"""Operator sign-in credentials: an argon2id password and a TOTP second factor (RFC 6238).

A code is accepted once only (the last accepted time step is kept), and repeated
failures lock the login for a while, so a guessed password is not enough and a
watched code cannot be replayed.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from datetime import timedelta
from urllib.parse import quote

import asyncpg
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from registry.console.sealing import seal, unseal
from registry.db import Connection
from registry.errors import Conflict, Invalid, NotFound, Unauthorized

# argon2id with the library's RFC 9106 defaults (64 MiB, 3 passes, 4 lanes).
_HASHER = PasswordHasher()
# Compared against when the login is unknown, so a miss costs as long as a hit.
_DUMMY_HASH = _HASHER.hash("no such operator: keeps timing flat")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
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
    """Store an argon2id hash of `password`; also clears any lockout."""
    check_password_strength(password)
    hashed = await asyncio.to_thread(_HASHER.hash, password)
    async with conn.transaction():
        await _ensure_row(conn, operator_id, login)
        await conn.execute(
            "UPDATE operator_credentials SET password_hash = $2, failed_attempts = 0,"
            " locked_until = NULL, updated_at = now() WHERE operator_id = $1",
            operator_id, hashed,
        )


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


async def _fail(conn: Connection, operator_id: str, why: str) -> SignInFailed:
    await conn.execute(
        "UPDATE operator_credentials SET failed_attempts = failed_attempts + 1,"
        " locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN now() + $3"
        "                     ELSE locked_until END"
        " WHERE operator_id = $1",
        operator_id, MAX_FAILURES, LOCKOUT,
    )
    return SignInFailed(operator_id, why)


async def authenticate(
    conn: Connection, key: bytes, login: str, password: str, code: str,
    now: float | None = None,
) -> str:
    """The operator id behind `login` when password and code are right; else SignInFailed."""
    now = time.time() if now is None else now
    row = await conn.fetchrow(
        "SELECT c.operator_id, c.password_hash, c.totp_secret, c.totp_last_step,"
        " c.locked_until > now() AS locked"
        " FROM operator_credentials c WHERE c.login = $1", login.strip(),
    )
    if row is None or row["password_hash"] is None:
        await _verify_password(_DUMMY_HASH, password)
        raise SignInFailed(None if row is None else row["operator_id"], "unknown login")
    operator_id: str = row["operator_id"]
    password_ok = await _verify_password(row["password_hash"], password)
    if row["locked"]:
        raise SignInFailed(operator_id, "locked")
    if not password_ok:
        raise await _fail(conn, operator_id, "wrong password")
    secret = unseal(key, row["totp_secret"]) if row["totp_secret"] else None
    if secret is None:
        raise await _fail(conn, operator_id, "no second factor enrolled")
    step = _matching_step(secret, code.strip(), now, row["totp_last_step"])
    if step is None:
        raise await _fail(conn, operator_id, "wrong code")
    # The compare-and-set makes a code good once even when two sign-ins race with it.
    taken = await conn.fetchval(
        "UPDATE operator_credentials SET totp_last_step = $2, failed_attempts = 0,"
        " locked_until = NULL WHERE operator_id = $1 AND totp_last_step < $2 RETURNING 1",
        operator_id, step,
    )
    if taken is None:
        raise SignInFailed(operator_id, "code replayed")
    if _HASHER.check_needs_rehash(row["password_hash"]):
        await set_password(conn, operator_id, password)
    return operator_id
