"""Makes real signed requests as a member's or operator's client would (API.md §2)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ec import generate_private_key as ec_generate
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from registry.signing_keys import public_jwk_of

_jws = jwt.PyJWS()
_jws.register_algorithm("Ed25519", OKPAlgorithm())


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def body_hash(body: bytes) -> str:
    return b64url(hashlib.sha256(body).digest())


def ec_jwk(key: EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")), "kid": kid}


@dataclass
class Signer:
    """One principal's private key; signs requests for one node."""

    principal_id: str
    kid: str
    key: Ed25519PrivateKey | EllipticCurvePrivateKey
    audience: str
    alg: str = "Ed25519"
    headers_extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new_ed25519(cls, principal_id: str, audience: str, kid: str = "k1") -> Signer:
        return cls(principal_id, kid, Ed25519PrivateKey.generate(), audience)

    @classmethod
    def new_es256(cls, principal_id: str, audience: str, kid: str = "p1") -> Signer:
        return cls(principal_id, kid, ec_generate(SECP256R1()), audience, alg="ES256")

    @property
    def public_jwk(self) -> dict[str, Any]:
        if isinstance(self.key, Ed25519PrivateKey):
            return public_jwk_of(self.key, self.kid)
        return ec_jwk(self.key, self.kid)

    def claims(self, method: str, target: str, body: bytes, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.principal_id, "aud": self.audience, "iat": now, "exp": now + 120,
                  "jti": secrets.token_urlsafe(24), "htm": method.upper(), "htu": target,
                  "bh": body_hash(body)}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, method: str, target: str, body: bytes = b"", **overrides: Any) -> str:
        return self.sign(self.claims(method, target, body, **overrides))

    def sign(self, claims: dict[str, Any], alg: str | None = None) -> str:
        headers = {"kid": self.kid, **self.headers_extra}
        return _jws.encode(msgspec.json.encode(claims), self.key, algorithm=alg or self.alg,
                           headers=headers)

    def headers(
        self, method: str, target: str, body: bytes = b"", **overrides: Any
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(method, target, body, **overrides)}",
                "Content-Type": "application/json"}
