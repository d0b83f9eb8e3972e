"""Every rule and error code of API.md §2, with real keys and real tokens."""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable
from hashlib import sha256
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.support.client import SignedClient
from tests.support.factories import admit_member, member_body
from tests.support.signing import Signer, b64url


@pytest.fixture(scope="module")
async def lender(operator: SignedClient) -> SignedClient:
    return await admit_member(operator, "lender")


def _target(member: SignedClient) -> str:
    return f"/v1/members/{member.id}"


async def _get_with(client: AsyncTestClient[Any], target: str, token: str | None) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return await client.get(target, headers=headers)


def _assert_401(answer: Any, code: str) -> None:
    assert answer.status_code == 401, answer.text
    problem = answer.json()
    assert problem["code"] == code, problem
    assert problem["status"] == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_signed_get_is_accepted(lender: SignedClient) -> None:
    answer = await lender.get(_target(lender))
    assert answer.status_code == 200
    assert answer.json()["id"] == lender.id


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
async def test_both_names_of_ed25519_are_accepted(lender: SignedClient, alg: str) -> None:
    target = _target(lender)
    token = lender.signer.sign(lender.signer.claims("GET", target, b""), alg=alg)
    assert (await _get_with(lender.client, target, token)).status_code == 200


async def test_es256_keys_sign_too(operator: SignedClient) -> None:
    member = await admit_member(operator, "carrier")
    p256 = Signer.new_es256(member.id, member.signer.audience)
    assert (await member.post(f"/v1/members/{member.id}/keys", p256.public_jwk)).status_code == 201
    assert (await SignedClient(member.client, p256).get(_target(member))).status_code == 200


async def test_token_missing(lender: SignedClient) -> None:
    _assert_401(await _get_with(lender.client, _target(lender), None), "token_missing")
    basic = await lender.client.get(_target(lender), headers={"Authorization": "Basic eDp5"})
    _assert_401(basic, "token_missing")


@pytest.mark.parametrize(
    "token", ["abc", "a.b.c", "e30.e30.", "....", "eyJhbGciOiJFZDI1NTE5In0.e30.sig"]
)
async def test_token_malformed(lender: SignedClient, token: str) -> None:
    _assert_401(await _get_with(lender.client, _target(lender), token), "token_malformed")


@pytest.mark.parametrize("claim", ["iss", "aud", "iat", "exp", "jti", "htm", "htu", "bh"])
async def test_every_claim_is_required(lender: SignedClient, claim: str) -> None:
    target = _target(lender)
    claims = lender.signer.claims("GET", target, b"")
    del claims[claim]
    answer = await _get_with(lender.client, target, lender.signer.sign(claims))
    _assert_401(answer, "token_malformed")


@pytest.mark.parametrize("jti", ["short", "x" * 129])
async def test_jti_length_is_checked(lender: SignedClient, jti: str) -> None:
    target = _target(lender)
    token = lender.signer.token("GET", target, jti=jti)
    _assert_401(await _get_with(lender.client, target, token), "token_malformed")


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    parts = [b64url(json.dumps(header).encode()), b64url(msgspec.json.encode(claims))]
    return ".".join([*parts, b64url(signature)])


async def test_alg_none_is_refused(lender: SignedClient) -> None:
    target = _target(lender)
    token = _unsigned({"alg": "none", "kid": lender.signer.kid},
                      lender.signer.claims("GET", target, b""))
    _assert_401(await _get_with(lender.client, target, token), "alg_not_allowed")


async def test_hs256_keyed_with_the_public_key_is_refused(lender: SignedClient) -> None:
    target = _target(lender)
    header = {"alg": "HS256", "kid": lender.signer.kid, "typ": "JWT"}
    claims = lender.signer.claims("GET", target, b"")
    public_x = lender.signer.public_jwk["x"]
    signing_input = ".".join([b64url(json.dumps(header).encode()),
                              b64url(msgspec.json.encode(claims))])
    mac = hmac.new(public_x.encode(), signing_input.encode(), sha256).digest()
    token = f"{signing_input}.{b64url(mac)}"
    _assert_401(await _get_with(lender.client, target, token), "alg_not_allowed")


@pytest.mark.parametrize("alg", ["RS256", "ES384", "HS512", "PS256"])
async def test_other_algs_are_refused(lender: SignedClient, alg: str) -> None:
    target = _target(lender)
    token = _unsigned({"alg": alg, "kid": lender.signer.kid},
                      lender.signer.claims("GET", target, b""), b"x" * 64)
    _assert_401(await _get_with(lender.client, target, token), "alg_not_allowed")


async def test_alg_must_match_the_key_type(lender: SignedClient) -> None:
    target = _target(lender)
    token = _unsigned({"alg": "ES256", "kid": lender.signer.kid},
                      lender.signer.claims("GET", target, b""), b"x" * 64)
    _assert_401(await _get_with(lender.client, target, token), "alg_not_allowed")


async def test_unknown_kid_and_unknown_issuer(lender: SignedClient) -> None:
    target = _target(lender)
    stranger = Signer.new_ed25519(lender.id, lender.signer.audience, kid="nope")
    _assert_401(await _get_with(lender.client, target, stranger.token("GET", target)),
                "unknown_key")
    ghost = Signer.new_ed25519("m_ghost", lender.signer.audience, kid=lender.signer.kid)
    _assert_401(await _get_with(lender.client, target, ghost.token("GET", target)),
                "unknown_key")


async def test_a_wrong_key_under_the_right_kid_is_a_bad_signature(lender: SignedClient) -> None:
    target = _target(lender)
    impostor = Signer.new_ed25519(lender.id, lender.signer.audience, kid=lender.signer.kid)
    _assert_401(await _get_with(lender.client, target, impostor.token("GET", target)),
                "bad_signature")


async def test_a_tampered_payload_is_a_bad_signature(lender: SignedClient) -> None:
    target = _target(lender)
    header, _, signature = lender.signer.token("GET", target).split(".")
    forged = lender.signer.claims("GET", target, b"", iss=lender.id)
    forged["exp"] += 100
    token = ".".join([header, b64url(msgspec.json.encode(forged)), signature])
    _assert_401(await _get_with(lender.client, target, token), "bad_signature")


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        (lambda now: {"iat": now - 200, "exp": now - 5}, "token_expired"),
        (lambda now: {"iat": now - 100, "exp": now}, "token_expired"),
        (lambda now: {"iat": now + 120, "exp": now + 200}, "token_not_yet_valid"),
        (lambda now: {"iat": now, "exp": now + 301}, "lifetime_too_long"),
        (lambda now: {"aud": "another-node"}, "wrong_audience"),
        (lambda now: {"htm": "POST"}, "method_mismatch"),
        (lambda now: {"htm": "get"}, "method_mismatch"),
        (lambda now: {"htu": "/v1/members"}, "url_mismatch"),
        (lambda now: {"bh": b64url(sha256(b"{}").digest())}, "body_mismatch"),
    ],
)
async def test_claim_rules(
    lender: SignedClient, claims: Callable[[int], dict[str, Any]], code: str
) -> None:
    target = _target(lender)
    token = lender.signer.token("GET", target, **claims(int(time.time())))
    _assert_401(await _get_with(lender.client, target, token), code)


async def test_iat_within_skew_is_accepted(lender: SignedClient) -> None:
    now = int(time.time())
    answer = await lender.get(_target(lender), iat=now + 30, exp=now + 90)
    assert answer.status_code == 200


async def test_htu_includes_the_query_string_exactly(lender: SignedClient) -> None:
    target = "/v1/members?kind=lender&limit=5"
    token = lender.signer.token("GET", "/v1/members?limit=5&kind=lender")
    _assert_401(await _get_with(lender.client, target, token), "url_mismatch")
    assert (await lender.get(target)).status_code == 200


async def test_a_replayed_token_is_refused(lender: SignedClient) -> None:
    target = _target(lender)
    token = lender.signer.token("GET", target)
    assert (await _get_with(lender.client, target, token)).status_code == 200
    _assert_401(await _get_with(lender.client, target, token), "replay")


async def test_a_refused_token_does_not_spend_its_nonce(lender: SignedClient) -> None:
    target = _target(lender)
    token = lender.signer.token("GET", target, aud="elsewhere")
    _assert_401(await _get_with(lender.client, target, token), "wrong_audience")
    jti = lender.signer.claims("GET", target, b"")["jti"]
    good = lender.signer.token("GET", target, jti=jti)
    assert (await _get_with(lender.client, target, good)).status_code == 200


async def test_the_body_is_bound_by_bh(operator: SignedClient) -> None:
    body = msgspec.json.encode(member_body("lender"))
    tampered = body.replace(b"\xe6\xb5\x8b", b"\xe5\x81\x87", 1)  # one character of the name
    assert tampered != body
    headers = operator.signer.headers("POST", "/v1/members", body)
    answer = await operator.client.post("/v1/members", content=tampered, headers=headers)
    _assert_401(answer, "body_mismatch")


async def test_suspended_members_read_but_do_not_write(operator: SignedClient) -> None:
    member = await admit_member(operator, "collection_agency", status="suspended")
    assert (await member.get(_target(member))).status_code == 200
    extra = Signer.new_ed25519(member.id, member.signer.audience, kid="k2").public_jwk
    answer = await member.post(f"/v1/members/{member.id}/keys", extra)
    assert answer.status_code == 403
    assert answer.json()["code"] == "member_suspended"


async def test_removed_members_do_nothing(operator: SignedClient) -> None:
    member = await admit_member(operator, "collection_agency", status="removed")
    answer = await member.get(_target(member))
    assert answer.status_code == 403
    assert answer.json()["code"] == "member_removed"


async def test_every_accepted_write_keeps_its_token(
    operator: SignedClient, db: asyncpg.Connection
) -> None:
    body = msgspec.json.encode(member_body("debt_buyer"))
    headers = operator.signer.headers("POST", "/v1/members", body)
    answer = await operator.client.post("/v1/members", content=body, headers=headers)
    member_id = answer.json()["id"]
    row = await db.fetchrow(
        "SELECT principal_id, token, method, path FROM write_evidence"
        " WHERE record_type = 'member' AND record_id = $1", member_id,
    )
    assert row is not None
    assert row["principal_id"] == operator.id
    assert f"Bearer {row['token']}" == headers["Authorization"]
    claims = json.loads(base64.urlsafe_b64decode(row["token"].split(".")[1] + "=="))
    assert claims["bh"] == b64url(sha256(body).digest())
