"""api/auth/verifier.py, every refusal branch: a table of real signed tokens, each tampered
in one way, verified against a table of registered keys (Ed25519 and P-256).

The key lookup and the nonce store are the verifier's two boundaries; here they are an
in-memory key table and a set of spent jtis, so that each branch is reached exactly
(the HTTP tests in test_signed_requests.py run the same rules against PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from api.auth.verifier import MAX_TOKEN_BYTES, TokenError, Verified, body_hash, verify
from registry.principals import SigningKey, Standing
from tests.support.signing import Signer, b64url

AUDIENCE = "node-verifier"
NOW = 1_800_000_000
TARGET = "/v1/trace/%2B8613800138000?at=2026-11-28T09%3A30%3A00%2B08%3A00"
BODY = b'{"values": ["+8613800138000"]}'
REVOKED = datetime(2026, 1, 1, tzinfo=UTC)

ED = Signer.new_ed25519("m_ed", AUDIENCE, kid="ed")
EC = Signer.new_es256("m_ec", AUDIENCE, kid="ec")
GONE = Signer.new_ed25519("m_gone", AUDIENCE, kid="gone")  # revoked when looked up
LATE = Signer.new_ed25519("m_late", AUDIENCE, kid="late")  # revoked between lookup and spend
VANISHED = Signer.new_ed25519("m_vanished", AUDIENCE, kid="vanished")  # deleted before spend
BROKEN_ED = Signer.new_ed25519("m_broken_ed", AUDIENCE, kid="broken")
BROKEN_EC = Signer.new_es256("m_broken_ec", AUDIENCE, kid="broken")
NOT_ON_CURVE = {"kty": "EC", "crv": "P-256", "x": b64url((1).to_bytes(32, "big")),
                "y": b64url((1).to_bytes(32, "big")), "kid": "broken"}


def _key(signer: Signer, jwk: dict[str, Any] | None = None,
         revoked: datetime | None = None) -> SigningKey:
    return SigningKey(signer.principal_id, "member", jwk or signer.public_jwk, revoked,
                      "lender", "active")


KEYS = {
    ("m_ed", "ed"): _key(ED), ("m_ec", "ec"): _key(EC),
    ("m_gone", "gone"): _key(GONE, revoked=REVOKED), ("m_late", "late"): _key(LATE),
    ("m_vanished", "vanished"): _key(VANISHED),
    # Stored keys that are no keys (as a peer could have sent before keys were checked).
    ("m_broken_ed", "broken"): _key(BROKEN_ED, {"kty": "OKP", "crv": "Ed25519", "x": "AA"}),
    ("m_broken_ec", "broken"): _key(BROKEN_EC, NOT_ON_CURVE),
}


@dataclass
class Node:
    spent: set[str] = field(default_factory=set)

    async def find_key(self, iss: str, kid: str) -> SigningKey | None:
        return KEYS.get((iss, kid))

    async def spend_nonce(self, iss: str, kid: str, jti: str, exp: int) -> Standing | None:
        if iss == "m_vanished":
            return None
        fresh = jti not in self.spent
        self.spent.add(jti)
        return Standing(fresh, REVOKED if iss == "m_late" else None, "active")

    async def verify(self, authorization: str | None, method: str = "POST",
                     target: str = TARGET, body: bytes = BODY) -> Verified:
        return await verify(authorization, method=method, target=target, body=body,
                            audience=AUDIENCE, now=NOW, find_key=self.find_key,
                            spend_nonce=self.spend_nonce)


def claims(signer: Signer = ED, **changes: Any) -> dict[str, Any]:
    made = {"iss": signer.principal_id, "aud": AUDIENCE, "iat": NOW - 5, "exp": NOW + 100,
            "jti": "jti-" + "0" * 20, "htm": "POST", "htu": TARGET, "bh": body_hash(BODY)}
    made.update(changes)
    return {k: v for k, v in made.items() if v is not None}


def signed(signer: Signer = ED, **changes: Any) -> str:
    return "Bearer " + signer.sign(claims(signer, **changes))


def raw(header: bytes, payload: bytes, signer: Signer = ED) -> str:
    """A token of exactly these header and payload bytes, signed for real."""
    signing_input = f"{b64url(header)}.{b64url(payload)}".encode()
    return f"Bearer {signing_input.decode()}.{b64url(signer.key.sign(signing_input))}"  # type: ignore[call-arg]


def _payload(**changes: Any) -> bytes:
    return json.dumps(claims(**changes)).encode()


def _resigned_part(token: str, index: int, text: str) -> str:
    parts = token.removeprefix("Bearer ").split(".")
    parts[index] = text
    return "Bearer " + ".".join(parts)


GOOD_HEADER = b'{"alg":"Ed25519","kid":"ed"}'

# (case, authorization, expected code); the request is always POST TARGET with BODY.
REFUSALS: list[tuple[str, Callable[[], str | None], str]] = [
    ("no header", lambda: None, "token_missing"),
    ("basic auth", lambda: "Basic dXNlcjpwYXNz", "token_missing"),
    ("bearer, lower case", lambda: signed().replace("Bearer", "bearer"), "token_missing"),
    ("over the size bound", lambda: signed(pad="p" * MAX_TOKEN_BYTES), "token_malformed"),
    ("two segments", lambda: "Bearer a.b", "token_malformed"),
    ("four segments", lambda: signed() + ".x", "token_malformed"),
    ("header not base64url", lambda: _resigned_part(signed(), 0, "e!e"), "token_malformed"),
    ("header not JSON", lambda: raw(b"{alg}", _payload()), "token_malformed"),
    ("claims not UTF-8", lambda: raw(GOOD_HEADER, b'{"iss":"\xff"}'), "token_malformed"),
    ("claims an array", lambda: raw(GOOD_HEADER, b"[1]"), "token_malformed"),
    ("header without kid", lambda: raw(b'{"alg":"Ed25519"}', _payload()), "token_malformed"),
    ("a claim missing", lambda: signed(bh=None), "token_malformed"),
    ("iat a string", lambda: signed(iat=str(NOW)), "token_malformed"),
    ("exp a float", lambda: signed(exp=NOW + 100.5), "token_malformed"),
    ("a name twice in the claims",
     lambda: raw(GOOD_HEADER, _payload()[:-1] + b', "htu": "/v1/other"}'), "token_malformed"),
    ("a name twice in the header",
     lambda: raw(b'{"alg":"Ed25519","kid":"nope","kid":"ed"}', _payload()), "token_malformed"),
    ("NUL in kid", lambda: raw(b'{"alg":"Ed25519","kid":"ed\\u0000"}', _payload()),
     "token_malformed"),
    ("NUL in iss", lambda: signed(iss="m_ed\u0000"), "token_malformed"),
    ("escape in jti", lambda: signed(jti="jti-\u001b[31m-0000000000000"), "token_malformed"),
    ("lone surrogate in htu", lambda: raw(GOOD_HEADER, _payload()[:-1] + b', "x": "\\ud800"}'),
     "token_malformed"),
    ("nested too deep", lambda: signed(x=json.loads("[" * 40 + "]" * 40)), "token_malformed"),
    ("critical extension",
     lambda: raw(b'{"alg":"Ed25519","kid":"ed","crit":["exp"],"exp":1}', _payload()),
     "token_malformed"),
    ("alg none", lambda: raw(b'{"alg":"none","kid":"ed"}', _payload()), "alg_not_allowed"),
    ("alg HS256", lambda: raw(b'{"alg":"HS256","kid":"ed"}', _payload()), "alg_not_allowed"),
    ("unknown kid", lambda: raw(b'{"alg":"Ed25519","kid":"other"}', _payload()), "unknown_key"),
    ("unknown issuer", lambda: signed(iss="m_nobody"), "unknown_key"),
    ("revoked key", lambda: signed(GONE), "key_revoked"),
    ("ES256 with an Ed25519 key", lambda: raw(b'{"alg":"ES256","kid":"ed"}', _payload()),
     "alg_not_allowed"),
    ("Ed25519 with a P-256 key",
     lambda: raw(b'{"alg":"Ed25519","kid":"ec"}', _payload(iss="m_ec")), "alg_not_allowed"),
    ("Ed25519 signature cut short", lambda: signed()[:-8], "bad_signature"),
    ("Ed25519 signature of another text",
     lambda: _resigned_part(signed(), 2, signed(jti="other-jti-00000000").split(".")[2]),
     "bad_signature"),
    ("Ed25519 payload changed after signing",
     lambda: _resigned_part(signed(), 1, b64url(_payload(exp=NOW + 200))), "bad_signature"),
    ("ES256 signature of another text",
     lambda: _resigned_part(signed(EC), 2, signed(EC, jti="other-jti-00000000").split(".")[2]),
     "bad_signature"),
    ("ES256 signature cut short", lambda: signed(EC)[:-8], "bad_signature"),
    ("stored Ed25519 key is no key", lambda: signed(BROKEN_ED), "bad_signature"),
    ("stored P-256 key is off the curve", lambda: signed(BROKEN_EC), "bad_signature"),
    ("expired", lambda: signed(iat=NOW - 200, exp=NOW - 1), "token_expired"),
    ("expires now", lambda: signed(iat=NOW - 200, exp=NOW), "token_expired"),
    ("issued in the future", lambda: signed(iat=NOW + 61, exp=NOW + 200), "token_not_yet_valid"),
    ("lives too long", lambda: signed(iat=NOW - 1, exp=NOW + 300), "lifetime_too_long"),
    ("for another node", lambda: signed(aud="node-other"), "wrong_audience"),
    ("for other nodes", lambda: signed(aud=["node-a", "node-b"]), "wrong_audience"),
    ("for GET", lambda: signed(htm="GET"), "method_mismatch"),
    ("for another path", lambda: signed(htu="/v1/trace/%2B8613800138001"), "url_mismatch"),
    ("for the path without its query", lambda: signed(htu=TARGET.partition("?")[0]),
     "url_mismatch"),
    ("for another body", lambda: signed(bh=body_hash(b"{}")), "body_mismatch"),
    ("jti too short", lambda: signed(jti="j" * 15), "token_malformed"),
    ("jti too long", lambda: signed(jti="j" * 129), "token_malformed"),
    ("key deleted before the nonce", lambda: signed(VANISHED), "unknown_key"),
    ("key revoked before the nonce", lambda: signed(LATE), "key_revoked"),
]


@pytest.mark.parametrize(("make", "code"), [(make, code) for _, make, code in REFUSALS],
                         ids=[case for case, _, _ in REFUSALS])
async def test_each_refusal_has_its_code(make: Callable[[], str | None], code: str) -> None:
    with pytest.raises(TokenError) as refused:
        await Node().verify(make())
    assert refused.value.code == code, refused.value.detail
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("signer", "alg", "aud"),
    [(ED, "Ed25519", AUDIENCE), (ED, "EdDSA", AUDIENCE), (EC, "ES256", AUDIENCE),
     (ED, "Ed25519", ["node-a", AUDIENCE])],
)
async def test_a_good_token_is_verified_once(signer: Signer, alg: str, aud: Any) -> None:
    node = Node()
    token = "Bearer " + signer.sign(claims(signer, aud=aud, iat=NOW + 60, exp=NOW + 70),
                                    alg=alg)
    verified = await node.verify(token)
    assert verified.key.principal_id == signer.principal_id
    assert verified.claims.jti == "jti-" + "0" * 20
    assert verified.token == token.removeprefix("Bearer ")
    assert verified.standing.fresh
    with pytest.raises(TokenError) as replayed:
        await node.verify(token)
    assert replayed.value.code == "replay"


async def test_a_refused_token_does_not_spend_its_jti() -> None:
    node = Node()
    with pytest.raises(TokenError):
        await node.verify(signed(htm="GET"))
    await node.verify(signed())


async def test_mismatch_details_say_what_the_node_compared() -> None:
    with pytest.raises(TokenError) as url:
        await Node().verify(signed(htu="/v1/trace/x"), target="/v1/trace/y?at=1")
    assert "'/v1/trace/y?at=1'" in url.value.detail
    with pytest.raises(TokenError) as body:
        await Node().verify(signed(), body=b"{}")
    assert body_hash(b"{}") in body.value.detail
    assert "2 body bytes" in body.value.detail
    assert body_hash(BODY) not in body.value.detail  # the token's own claim is not echoed
