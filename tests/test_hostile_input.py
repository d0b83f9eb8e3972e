"""Hostile bodies and tokens get their 4xx (API.md §1, §2), through the one decoding path
every request body and token segment takes (registry/untrusted_json.py, api/body.py)."""

from __future__ import annotations

import base64
import re
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar

from tests.support.client import SignedClient
from tests.support.factories import admit_member, member_body
from tests.support.signing import Signer, b64url

MEMBERS = "/v1/members"


def _problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code, problem
    return problem


def _fields(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem["errors"]]


def _member_json(**fields: Any) -> bytes:
    return msgspec.json.encode(member_body("lender", **fields))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 1000 + b"]" * 1000, id="arrays-1000-deep"),
        pytest.param(b'{"a":' * 1000 + b"1" + b"}" * 1000, id="objects-1000-deep"),
        pytest.param(b"[" * 40 + b"]" * 40, id="arrays-40-deep"),
        pytest.param(_member_json()[:-1] + b', "x": ' + b"[" * 50 + b"]" * 50 + b"}",
                     id="deep-inside-a-member"),
        pytest.param(_member_json(name="\ufffd").replace("\ufffd".encode(), b"\xff\xfe"),
                     id="invalid-utf8-in-a-string"),
        pytest.param(_member_json(name="\ufffd").replace("\ufffd".encode(), b"\xed\xa0\x80"),
                     id="utf8-encoded-surrogate"),
        pytest.param(_member_json(name="x").replace(b'"x"', b'"\\ud800"'), id="lone-surrogate"),
        pytest.param(_member_json(name="x").replace(b'"x"', b'"\\udc00\\ud800"'),
                     id="reversed-surrogates"),
        pytest.param(_member_json()[:-1] + b', "kind": "carrier"}', id="duplicate-key"),
        pytest.param(_member_json(contact={"phone": "1", "phone ": "2"})
                     .replace(b'"phone ":', b'"phone":'), id="duplicate-nested-key"),
        pytest.param(b'{"name": NaN}', id="nan"),
        pytest.param(b'{"name": Infinity}', id="infinity"),
        pytest.param(b'{"name": 1e400}', id="float-overflow"),
        pytest.param(b'{"name": ' + b"9" * 5000 + b"}", id="5000-digit-integer"),
        pytest.param(b"\xef\xbb\xbf" + _member_json(), id="byte-order-mark"),
        pytest.param(_member_json() + b" x", id="trailing-garbage"),
    ],
)
async def test_bodies_that_are_not_plain_json_are_400(operator: SignedClient, raw: bytes) -> None:
    answer = await operator.request("POST", MEMBERS, raw=raw)
    _problem(answer, 400, "malformed_body")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (member_body("lender", name="\u0000"), "name"),
        (member_body("lender", name="a\u0007b"), "name"),
        (member_body("lender", name="a\u009bb"), "name"),
        (member_body("lender", name="a\u007fb"), "name"),
        (member_body("lender", contact={"address": "北京\u0000市"}), "contact.address"),
        (member_body("lender", keys=[{"kty": "OKP", "crv": "Ed25519", "kid": "k\u0000",
                                      "x": b64url(bytes(32))}]), "keys[0].kid"),
    ],
)
async def test_control_characters_in_text_are_422_naming_the_field(
    operator: SignedClient, body: dict[str, Any], field: str
) -> None:
    problem = _problem(await operator.post(MEMBERS, body), 422, "invalid")
    assert field in _fields(problem), problem


async def test_line_breaks_and_tabs_in_free_text_are_kept(operator: SignedClient) -> None:
    process = "一、来电登记\n二、三个工作日内答复\t（节假日顺延）\r\n"
    body = member_body("lender", complaints={"phone": "400-800-1234", "process": process})
    answer = await operator.post(MEMBERS, body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["complaints"]["process"] == process


async def test_escaped_surrogate_pairs_are_one_character(operator: SignedClient) -> None:
    raw = _member_json(name="x").replace(b'"x"', b'"\\u6d4b\\ud83d\\ude00"')
    answer = await operator.request("POST", MEMBERS, raw=raw)
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "测\U0001f600"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/jsonx",
     "application/xml", "multipart/form-data; boundary=x", ""],
)
async def test_a_body_that_is_not_declared_json_is_415(
    operator: SignedClient, content_type: str
) -> None:
    body = _member_json()
    headers = operator.signer.headers("POST", MEMBERS, body)
    headers["Content-Type"] = content_type
    if not content_type:
        del headers["Content-Type"]
    answer = await operator.client.post(MEMBERS, content=body, headers=headers)
    _problem(answer, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8",
                     "Application/JSON;charset=UTF-8"],
)
async def test_json_with_its_parameters_is_accepted(
    operator: SignedClient, content_type: str
) -> None:
    body = _member_json()
    headers = operator.signer.headers("POST", MEMBERS, body)
    headers["Content-Type"] = content_type
    answer = await operator.client.post(MEMBERS, content=body, headers=headers)
    assert answer.status_code == 201, answer.text


async def test_requests_without_a_body_need_no_content_type(operator: SignedClient) -> None:
    member = await admit_member(operator, "carrier")
    extra = Signer.new_ed25519(member.id, operator.signer.audience, kid="spare")
    assert (await member.post(f"{MEMBERS}/{member.id}/keys", extra.public_jwk)).status_code == 201
    target = f"{MEMBERS}/{member.id}/keys/spare"
    headers = member.signer.headers("DELETE", target)
    del headers["Content-Type"]
    assert (await member.client.delete(target, headers=headers)).status_code == 204
    headers = member.signer.headers("GET", f"{MEMBERS}/{member.id}")
    del headers["Content-Type"]
    assert (await member.client.get(f"{MEMBERS}/{member.id}", headers=headers)).status_code == 200


# ---- member keys -------------------------------------------------------------------------

_P256_NOT_ON_CURVE = {"kty": "EC", "crv": "P-256", "kid": "bad", "x": b64url(
    (1).to_bytes(32, "big")), "y": b64url((1).to_bytes(32, "big"))}
_ED25519_SMALL_ORDER = [
    bytes(32),                                   # y = 0: a point of order 4
    b"\x01" + bytes(31),                         # the identity
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y = -1
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
]
_ED25519_NOT_CANONICAL = bytes.fromhex(
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")  # y = p


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param(_P256_NOT_ON_CURVE, id="p256-not-on-curve"),
        *(pytest.param({"kty": "OKP", "crv": "Ed25519", "kid": "bad", "x": b64url(x)},
                       id=f"ed25519-small-order-{i}") for i, x in enumerate(_ED25519_SMALL_ORDER)),
        pytest.param({"kty": "OKP", "crv": "Ed25519", "kid": "bad",
                      "x": b64url(_ED25519_NOT_CANONICAL)}, id="ed25519-non-canonical"),
    ],
)
async def test_keys_that_are_no_usable_point_are_422(
    operator: SignedClient, jwk: dict[str, Any]
) -> None:
    member = await admit_member(operator, "lender")
    problem = _problem(await member.post(f"{MEMBERS}/{member.id}/keys", jwk), 422, "invalid")
    assert all(f.startswith("jwk") for f in _fields(problem)), problem
    created = await operator.post(MEMBERS, member_body("lender", keys=[jwk]))
    problem = _problem(created, 422, "invalid")
    assert any(f.startswith("keys[0]") for f in _fields(problem)), problem


# ---- tokens ------------------------------------------------------------------------------

def _token_with(signer: Signer, target: str, **claims: Any) -> str:
    return signer.sign(signer.claims("GET", target, b"", **claims))


@pytest.mark.parametrize("claim", ["iss", "jti", "htu", "htm"])
async def test_control_characters_in_claims_are_token_malformed(
    operator: SignedClient, claim: str
) -> None:
    target = f"{MEMBERS}/{operator.id}"
    original = operator.signer.claims("GET", target, b"")[claim]
    token = _token_with(operator.signer, target, **{claim: original[:-1] + "\u0000"})
    answer = await operator.client.get(target, headers={"Authorization": f"Bearer {token}"})
    _problem(answer, 401, "token_malformed")


async def test_a_nul_in_kid_is_token_malformed(operator: SignedClient) -> None:
    target = f"{MEMBERS}/{operator.id}"
    signer = Signer(operator.id, "k\u0000", operator.signer.key, operator.signer.audience)
    answer = await operator.client.get(
        target, headers={"Authorization": f"Bearer {signer.token('GET', target)}"})
    _problem(answer, 401, "token_malformed")


def _resigned(signer: Signer, header: bytes, payload: bytes) -> str:
    """A token whose header and claims are these exact bytes, signed for real."""
    signing_input = f"{b64url(header)}.{b64url(payload)}".encode()
    signature = signer.key.sign(signing_input)  # type: ignore[call-arg]
    return f"{signing_input.decode()}.{b64url(signature)}"


async def test_duplicate_claims_are_token_malformed(operator: SignedClient) -> None:
    target = f"{MEMBERS}/{operator.id}"
    claims = msgspec.json.encode(operator.signer.claims("GET", target, b""))
    doubled = claims[:-1] + b',"htu":"/v1/elsewhere"}'
    header = msgspec.json.encode({"alg": "Ed25519", "kid": operator.signer.kid})
    token = _resigned(operator.signer, header, doubled)
    answer = await operator.client.get(target, headers={"Authorization": f"Bearer {token}"})
    _problem(answer, 401, "token_malformed")
    header = b'{"alg":"Ed25519","kid":"x","kid":"' + operator.signer.kid.encode() + b'"}'
    token = _resigned(operator.signer, header, claims)
    answer = await operator.client.get(target, headers={"Authorization": f"Bearer {token}"})
    _problem(answer, 401, "token_malformed")


async def test_two_authorization_headers_are_token_malformed(operator: SignedClient) -> None:
    target = f"{MEMBERS}/{operator.id}"
    tokens = [operator.signer.token("GET", target) for _ in range(2)]
    headers = [("Authorization", f"Bearer {token}") for token in tokens]
    answer = await operator.client.get(target, headers=headers)
    _problem(answer, 401, "token_malformed")


async def test_an_oversized_token_is_refused_and_never_stored(
    operator: SignedClient, db: asyncpg.Connection
) -> None:
    body = _member_json()
    padding = "p" * 9000
    headers = operator.signer.headers("POST", MEMBERS, body, note=padding)
    answer = await operator.client.post(MEMBERS, content=body, headers=headers)
    _problem(answer, 401, "token_malformed")
    longest = await db.fetchval("SELECT max(octet_length(token)) FROM write_evidence")
    assert longest is None or longest <= 8192


# ---- a little fuzzing over every route that takes a body ----------------------------------

_FUZZ = [
    b'{"limit": 1e308, "at": 1.5}',
    b'{"items": {"not": "a list"}, "ids": "x", "values": {"a": 1}}',
    b'{"values": [' + b",".join([b"[1]"] * 50) + b"]}",
    b'{"scores": {"compliance": 99999999999999999999999999}, "daily_limit": -1.0e0}',
    b'{"value": "\\ud83d", "reason": "\\udfff"}',
    b"[]", b"0", b'""', b"true", b'{"": null}',
]


def _body_routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        for method in getattr(route, "methods", ()):
            if method in ("POST", "PUT", "PATCH") and route.path.startswith("/v1/"):
                found.append((method, re.sub(r"\{[^}]+\}", "x1", route.path)))
    return sorted(set(found))


async def test_fuzzed_bodies_on_every_route_are_4xx(app: Litestar, operator: SignedClient) -> None:
    routes = _body_routes(app)
    assert len(routes) >= 15
    for method, path in routes:
        for raw in _FUZZ:
            answer = await operator.request(method, path, raw=raw)
            assert 400 <= answer.status_code < 500, (method, path, raw, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "query", ["limit=1e999", "limit=99999999999999999999999", "limit=1.5", "limit=-0",
              "cursor=%00", "q=%00", "kind=%ED%A0%80", "cursor=" + base64.urlsafe_b64encode(
                  b'["\\ud800", 1e999]').decode()],
)
async def test_fuzzed_queries_are_4xx_or_answered(operator: SignedClient, query: str) -> None:
    answer = await operator.get(f"{MEMBERS}?{query}")
    assert answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    "target",
    ["/v1/public/check/%00", "/v1/public/check/%ED%A0%80", "/v1/public/check/" + "9" * 5000,
     "/v1/public/check/%2B86%0A138", "/v1/public/lenders/%00/agencies",
     "/v1/trace/%00?at=1e999", "/v1/trace/%2B8613800138000?at=99999-01-01T00:00:00Z",
     "/v1/trace/%2B8613800138000?at=%00", "/v1/trace/%2B8613800138000?callee=%ED%A0%80",
     "/v1/sync/changes?after=1e999", "/v1/sync/changes?after=-1&limit=99999999999999999999",
     "/v1/events?after=%00"],
)
async def test_fuzzed_paths_and_queries_are_never_500(operator: SignedClient, target: str) -> None:
    answer = await operator.get(target)
    assert answer.status_code < 500, (target, answer.text)
