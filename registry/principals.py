"""Principals that sign requests (members, operators, peer nodes) and the lookup of their keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.db import Connection
from registry.ids import new_id
from registry.signing_keys import public_jwk_of


class SigningKey(msgspec.Struct, frozen=True):
    """A registered key with what the verifier must know about its principal."""

    principal_id: str
    role: str  # "member", "operator" or "node"
    jwk: dict[str, Any]
    revoked_at: datetime | None
    member_kind: str | None
    status: str | None


# One round trip finds the key and the principal's standing, whatever kind it is.
_FIND_KEY = """
SELECT k.principal_id, k.jwk, k.revoked_at,
       CASE WHEN m.id IS NOT NULL THEN 'member'
            WHEN o.id IS NOT NULL THEN 'operator'
            WHEN p.node_id IS NOT NULL THEN 'node' END AS role,
       m.kind AS member_kind, m.status
FROM principal_keys k
LEFT JOIN members m ON m.id = k.principal_id
LEFT JOIN operators o ON o.id = k.principal_id
LEFT JOIN peers p ON p.node_id = k.principal_id
WHERE k.principal_id = $1 AND k.kid = $2
"""


async def find_signing_key(
    conn: Connection, principal_id: str, kid: str
) -> SigningKey | None:
    row = await conn.fetchrow(_FIND_KEY, principal_id, kid)
    if row is None or row["role"] is None:
        return None
    return SigningKey(row["principal_id"], row["role"], row["jwk"], row["revoked_at"],
                      row["member_kind"], row["status"])


class Standing(msgspec.Struct, frozen=True):
    """A principal's standing read at the moment its nonce is spent."""

    fresh: bool  # False: the jti was used already within its lifetime
    revoked_at: datetime | None
    status: str | None


# Spending a token's jti and re-reading its key's revocation and its member's status share
# one statement, so a verifier that caches key material still decides on current standing;
# the tokens of a burst share it too (one transaction, one round trip). Callers pass each
# (issuer, jti) at most once.
_SPEND_NONCES = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
        WITH ORDINALITY AS t(issuer, kid, jti, exp, i)
), spent AS (
    INSERT INTO token_nonces (issuer, jti, expires_at)
    SELECT issuer, jti, to_timestamp(exp) FROM input
    ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
        WHERE token_nonces.expires_at < now()
    RETURNING issuer, jti
)
SELECT input.i,
       EXISTS (SELECT 1 FROM spent s WHERE s.issuer = input.issuer AND s.jti = input.jti)
           AS fresh,
       k.revoked_at, m.status
FROM input
JOIN principal_keys k ON k.principal_id = input.issuer AND k.kid = input.kid
LEFT JOIN members m ON m.id = k.principal_id
"""

NonceSpend = tuple[str, str, str, int]  # (principal_id, kid, jti, expires_at)


async def spend_nonces(conn: Connection, spends: list[NonceSpend]) -> list[Standing | None]:
    """Record each token's jti; answers in the order given, None where the key is gone."""
    rows = await conn.fetch(_SPEND_NONCES, [s[0] for s in spends], [s[1] for s in spends],
                            [s[2] for s in spends], [s[3] for s in spends])
    answers: list[Standing | None] = [None] * len(spends)
    for row in rows:
        answers[row["i"] - 1] = Standing(row["fresh"], row["revoked_at"], row["status"])
    return answers


class NewOperator(msgspec.Struct, frozen=True):
    id: str
    kid: str
    private_key: Ed25519PrivateKey


async def create_operator(conn: Connection, name: str) -> NewOperator:
    key = Ed25519PrivateKey.generate()
    jwk = public_jwk_of(key)
    operator_id = new_id("op")
    async with conn.transaction():
        await conn.execute("INSERT INTO operators (id, name) VALUES ($1, $2)", operator_id, name)
        await conn.execute(
            "INSERT INTO principal_keys (principal_id, kid, jwk) VALUES ($1, $2, $3)",
            operator_id, jwk["kid"], jwk,
        )
    return NewOperator(operator_id, jwk["kid"], key)


async def operator_name(conn: Connection, operator_id: str) -> str | None:
    value = await conn.fetchval("SELECT name FROM operators WHERE id = $1", operator_id)
    return None if value is None else str(value)


async def purge_expired_nonces(conn: Connection) -> int:
    status = await conn.execute("DELETE FROM token_nonces WHERE expires_at < now()")
    return int(status.split()[-1])
