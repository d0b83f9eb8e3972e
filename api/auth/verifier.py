"""Verifies a signed request as API.md §2 reads; every failure raises TokenError(code).

The steps are numbered as the contract gives them. The key is chosen by `iss` and `kid`
before any signature or claim is trusted, and the nonce is spent last, so that a token
refused for any other reason does not use up its jti.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

import jwt
import msgspec
from jwt.algorithms import Algorithm, ECAlgorithm
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from registry.errors import Unauthorized
from registry.keys import allowed_algs
from registry.principals import SigningKey, Standing
from registry.untrusted_json import decode

ALLOWED_ALGS = frozenset({"Ed25519", "EdDSA", "ES256"})
CLOCK_SKEW = 60
MAX_LIFETIME = 300
# A token is a few hundred bytes; it is kept whole as write evidence, so it is bounded.
MAX_TOKEN_BYTES = 8192

# ES256 signatures are checked by PyJWT's algorithm object on the token as it was split
# and parsed below, so it is parsed once per request. Ed25519 (and EdDSA, RFC 9864's
# polymorphic name for the same computation) is checked by libsodium: half OpenSSL's time
# per signature here (49 against 109 us), on every signed request.
_ES256: Algorithm = ECAlgorithm(ECAlgorithm.SHA256)
_ED25519_ALGS = frozenset({"Ed25519", "EdDSA"})


class TokenError(Unauthorized):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


class Header(msgspec.Struct, frozen=True):
    alg: str
    kid: str
    # RFC 7515 §4.1.11: extensions the recipient does not understand make the token
    # invalid, and this verifier understands none.
    crit: tuple[str, ...] | None = None


class Claims(msgspec.Struct):
    iss: str
    aud: str | list[str]
    iat: int
    exp: int
    jti: str
    htm: str
    htu: str
    bh: str


class Verified(msgspec.Struct, frozen=True):
    key: SigningKey
    standing: Standing
    claims: Claims
    token: str


KeyLookup = Callable[[str, str], Awaitable[SigningKey | None]]  # (iss, kid)
# (iss, kid, jti, exp) -> the key's current standing with whether the jti was fresh
SpendNonce = Callable[[str, str, str, int], Awaitable[Standing | None]]


def body_hash(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")


_EMPTY_BODY_HASH = body_hash(b"")  # what every GET's token binds


def _segment(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@lru_cache(maxsize=1024)  # at most 8 MiB of segments, if anyone sends long ones
def _header(part: str) -> Header:
    """A header segment, decoded: every token a key signs carries the same one, so it is
    decoded once per key rather than once per request (a bad one raises every time)."""
    return msgspec.convert(decode(_segment(part)), Header)


@lru_cache(maxsize=4096)
def _public_key(kty: str, crv: str, x: str, y: str | None) -> Any:
    jwk = {"kty": kty, "crv": crv, "x": x} | ({"y": y} if y is not None else {})
    return jwt.PyJWK(jwk, "ES256" if kty == "EC" else "EdDSA").key


def _verifying_key(jwk: dict[str, Any]) -> Any:
    return _public_key(jwk["kty"], jwk["crv"], jwk["x"], jwk.get("y"))


@lru_cache(maxsize=4096)
def _ed25519_key(x: str) -> VerifyKey:
    return VerifyKey(_segment(x))


def _signature_verifies(alg: str, jwk: dict[str, Any], signing_input: bytes,
                        signature: bytes) -> bool:
    # A stored key that is no key (one a peer sent before keys were checked) verifies
    # nothing, whatever the error its library raises.
    if alg not in _ED25519_ALGS:
        try:
            return bool(_ES256.verify(signing_input, _verifying_key(jwk), signature))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            return False
    if len(signature) != 64:
        return False
    try:
        _ed25519_key(jwk["x"]).verify(signing_input, signature)
    except (BadSignatureError, ValueError, TypeError, KeyError):
        return False
    return True


async def verify(
    authorization: str | None, *, method: str, target: str, body: bytes, audience: str,
    now: int, find_key: KeyLookup, spend_nonce: SpendNonce,
) -> Verified:
    # 1. A bearer token is present.
    if not authorization or not authorization.startswith("Bearer "):
        raise TokenError("token_missing", "send Authorization: Bearer <signed JWT>")
    token = authorization[len("Bearer "):].strip()

    # 2. It is a compact JWS of at most MAX_TOKEN_BYTES whose header and claims are plain
    #    JSON (registry.untrusted_json: no name twice, no control characters), with every
    #    claim present and no critical extension.
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError("token_malformed", f"the token is over {MAX_TOKEN_BYTES} bytes")
    try:
        header_part, payload_part, signature_part = token.split(".")
        header = _header(header_part)
        unverified = msgspec.convert(decode(_segment(payload_part)), Claims)
        signature = _segment(signature_part)
    except (ValueError, binascii.Error, msgspec.ValidationError) as exc:
        raise TokenError("token_malformed", f"not a compact JWS with every claim: {exc}") from exc
    if header.crit is not None:
        raise TokenError("token_malformed",
                         f"critical extensions {list(header.crit)} not understood")

    # 3. alg is one of Ed25519, EdDSA, ES256; nothing else, `none` least of all.
    if header.alg not in ALLOWED_ALGS:
        raise TokenError("alg_not_allowed", f"alg {header.alg!r} is not accepted")

    # 4. The key is chosen by iss and kid, and must be live and of the alg's type.
    key = await find_key(unverified.iss, header.kid)
    if key is None:
        raise TokenError("unknown_key", f"{unverified.iss} has no key {header.kid!r}")
    if key.revoked_at is not None:
        raise TokenError("key_revoked", f"key {header.kid!r} was revoked")
    if header.alg not in allowed_algs(key.jwk):
        raise TokenError("alg_not_allowed", f"key {header.kid!r} does not sign {header.alg}")

    # 5. The signature verifies under that key.
    signing_input = f"{header_part}.{payload_part}".encode()
    if not _signature_verifies(header.alg, key.jwk, signing_input, signature):
        raise TokenError("bad_signature", "signature does not verify")
    claims = unverified

    # 6. Times: exp in the future, iat not beyond the skew, lifetime at most 300 s.
    if claims.exp <= now:
        raise TokenError("token_expired", f"token expired {now - claims.exp} s ago")
    if claims.iat > now + CLOCK_SKEW:
        raise TokenError("token_not_yet_valid", f"iat is {claims.iat - now} s in the future")
    if claims.exp - claims.iat > MAX_LIFETIME:
        raise TokenError("lifetime_too_long", f"exp - iat must be at most {MAX_LIFETIME} s")

    # 7. It was made for this node, this method, this path and query, this body.
    audiences = [claims.aud] if isinstance(claims.aud, str) else claims.aud
    if audience not in audiences:
        raise TokenError("wrong_audience", f"token is for {claims.aud!r}, this is {audience!r}")
    if claims.htm != method:
        raise TokenError("method_mismatch", f"token is for {claims.htm}, request is {method}")
    if claims.htu != target:
        raise TokenError("url_mismatch", f"htu does not match the path and query received: "
                                         f"{target[:512]!r}")
    if claims.bh != (received := body_hash(body) if body else _EMPTY_BODY_HASH):
        raise TokenError("body_mismatch", f"bh does not match the {len(body)} body bytes "
                                          f"received, whose hash is {received}")

    # 8. The nonce is spent; a second use within the token's lifetime is a replay. The
    #    key's revocation is read again in the same step, so no cache can outlive it.
    if not 16 <= len(claims.jti) <= 128:
        raise TokenError("token_malformed", "jti must be 16 to 128 characters")
    standing = await spend_nonce(claims.iss, header.kid, claims.jti, claims.exp)
    if standing is None:
        raise TokenError("unknown_key", f"{claims.iss} has no key {header.kid!r}")
    if standing.revoked_at is not None:
        raise TokenError("key_revoked", f"key {header.kid!r} was revoked")
    if not standing.fresh:
        raise TokenError("replay", "this jti was used already")
    return Verified(key, standing, claims, token)
