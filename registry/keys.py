"""Public signing keys as JWKs: which are acceptable, and which JWS algorithms each allows."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jwt
from nacl.bindings import crypto_core_ed25519_is_valid_point

from registry.errors import FieldError, Invalid

# API.md §2: the key's type must match the token's alg.
ALGS_FOR_CURVE = {"Ed25519": frozenset({"Ed25519", "EdDSA"}), "P-256": frozenset({"ES256"})}
_COORD_BYTES = {"Ed25519": 32, "P-256": 32}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


def _b64url(value: object) -> bytes | None:
    if not isinstance(value, str) or "=" in value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _b64url_len(value: object) -> int | None:
    raw = _b64url(value)
    return None if raw is None else len(raw)


def public_jwk(jwk: object, field: str = "keys") -> dict[str, Any]:
    """Check a member-supplied JWK and return only its public members."""
    if not isinstance(jwk, dict):
        raise Invalid.field(field, "must be a JWK object")
    problems: list[FieldError] = []
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 1 <= len(kid) <= 128:
        problems.append(FieldError(f"{field}.kid", "required, 1 to 128 characters"))
    if _PRIVATE_MEMBERS & jwk.keys():
        problems.append(FieldError(field, "a private key was sent; send the public key only"))
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if (kty, crv) == ("OKP", "Ed25519"):
        if _b64url_len(jwk.get("x")) != 32:
            problems.append(FieldError(f"{field}.x", "must be 32 bytes, base64url"))
        public = {"kty": kty, "crv": crv, "x": jwk.get("x"), "kid": kid}
    elif (kty, crv) == ("EC", "P-256"):
        for coord in ("x", "y"):
            if _b64url_len(jwk.get(coord)) != 32:
                problems.append(FieldError(f"{field}.{coord}", "must be 32 bytes, base64url"))
        public = {"kty": kty, "crv": crv, "x": jwk.get("x"), "y": jwk.get("y"), "kid": kid}
    else:
        problems.append(FieldError(f"{field}.kty", "must be OKP/Ed25519 or EC/P-256"))
        public = {}
    if problems:
        raise Invalid(problems)
    if kty == "EC":
        _check_on_curve(public, field)
    elif not crypto_core_ed25519_is_valid_point(_b64url(public["x"]) or b""):
        # libsodium's check: canonical, on the curve, in the prime-order subgroup, not of
        # small order. A small-order key (all zeros, the identity) verifies forged
        # signatures under some verifiers; no honest key is one.
        raise Invalid.field(f"{field}.x", "not a valid Ed25519 public key")
    return public


def _check_on_curve(jwk: dict[str, Any], field: str) -> None:
    try:
        jwt.PyJWK(jwk, "ES256")
    except (jwt.PyJWTError, ValueError) as exc:
        raise Invalid.field(field, "not a point on P-256") from exc


def allowed_algs(jwk: dict[str, Any]) -> frozenset[str]:
    return ALGS_FOR_CURVE.get(str(jwk.get("crv")), frozenset())
