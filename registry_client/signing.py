"""Signs requests exactly as API.md §2 asks: one implementation for members, operators,
the node's own federation client and the tests.

A token binds the method (`htm`), the path and query exactly as sent (`htu`) and the
SHA-256 of the body bytes (`bh`); it lives `lifetime` seconds and carries a fresh `jti`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import jwt
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ec import generate_private_key as ec_generate
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from registry.signing_keys import public_jwk_of

PrivateKey = Ed25519PrivateKey | EllipticCurvePrivateKey
# Short enough that a leaked token is soon useless, long enough for a slow network.
TOKEN_LIFETIME = 60

# PyJWT knows Ed25519 keys only as "EdDSA"; RFC 9864's fully specified name is registered
# here so that the header says exactly what the key is.
_jws = jwt.PyJWS()
_jws.register_algorithm("Ed25519", OKPAlgorithm())


def b64url(raw: bytes) -> str:
    """base64url without padding, as JOSE writes it."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def body_hash(body: bytes) -> str:
    """The `bh` claim: SHA-256 of the raw body bytes (of b"" when there is no body)."""
    return b64url(hashlib.sha256(body).digest())


def public_jwk(key: PrivateKey, kid: str | None = None) -> dict[str, Any]:
    """The public half of `key` as the JWK to register with the association; without a
    kid an Ed25519 key is named by its RFC 7638 thumbprint (what `registry keygen` does)."""
    if isinstance(key, Ed25519PrivateKey):
        return public_jwk_of(key, kid)
    if kid is None:
        raise ValueError("a P-256 key needs a kid")
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")), "kid": kid}


def load_private_key(pem: bytes | Path) -> PrivateKey:
    """An Ed25519 or P-256 private key from PKCS#8 (or SEC1) PEM bytes or a PEM file."""
    raw = pem.read_bytes() if isinstance(pem, Path) else pem
    key = serialization.load_pem_private_key(raw, password=None)
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, EllipticCurvePrivateKey) and isinstance(key.curve, SECP256R1):
        return key
    raise ValueError("the key is neither Ed25519 nor P-256")


@dataclass
class Signer:
    """One principal's private key, signing requests to one node (`audience`)."""

    principal_id: str
    kid: str
    key: PrivateKey
    audience: str
    lifetime: int = TOKEN_LIFETIME
    headers_extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new_ed25519(cls, principal_id: str, audience: str, kid: str = "k1") -> Self:
        return cls(principal_id, kid, Ed25519PrivateKey.generate(), audience)

    @classmethod
    def new_es256(cls, principal_id: str, audience: str, kid: str = "p1") -> Self:
        return cls(principal_id, kid, ec_generate(SECP256R1()), audience)

    @property
    def alg(self) -> str:
        return "Ed25519" if isinstance(self.key, Ed25519PrivateKey) else "ES256"

    @property
    def public_jwk(self) -> dict[str, Any]:
        return public_jwk(self.key, self.kid)

    def claims(self, method: str, target: str, body: bytes = b"") -> dict[str, Any]:
        """The §2 claims for one request; `target` is the path and query as sent."""
        now = int(time.time())
        return {"iss": self.principal_id, "aud": self.audience, "iat": now,
                "exp": now + self.lifetime, "jti": secrets.token_urlsafe(24),
                "htm": method.upper(), "htu": target, "bh": body_hash(body)}

    def sign(self, claims: dict[str, Any], alg: str | None = None) -> str:
        headers = {"kid": self.kid, **self.headers_extra}
        return _jws.encode(msgspec.json.encode(claims), self.key, algorithm=alg or self.alg,
                           headers=headers)

    def token(self, method: str, target: str, body: bytes = b"") -> str:
        return self.sign(self.claims(method, target, body))

    def authorization(self, method: str, target: str, body: bytes = b"") -> str:
        """The Authorization header's value for one request."""
        return f"Bearer {self.token(method, target, body)}"
