"""Trace receipts: the answer signed with the proofs of every record it rests on, checked
offline; any changed byte fails; a peer's records carry the peer's own proofs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.testing import AsyncTestClient

from registry.signing_keys import load_private_key, public_jwk_of
from registry_client import receipts
from registry_client.receipts import ReceiptError
from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import RunningNode, chain_digest, eventually, nodes, pair
from tests.support.whitelist import IN_WINDOW, Cast, cast, confirm, entrust, file, supply, trace

NUMBER = "+8613800138000"


@pytest.fixture(scope="module")
async def people(operator: SignedClient) -> Cast:
    c = await cast(operator)
    resource = await supply(c.carrier, c.agency, NUMBER)
    await confirm(c.agency, resource["id"])
    entrustment = await entrust(c.lender, c.agency)
    await file(c.lender, resource["id"], entrustment["id"])
    return c


async def _node_key(client: Any) -> dict[str, Any]:
    key: dict[str, Any] = (await client.get("/.well-known/registry-node")).json()["keys"][0]
    return key


async def _receipt(member: SignedClient, value: str) -> dict[str, Any]:
    answer = await member.post("/v1/trace/receipt", {"value": value, "at": IN_WINDOW})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_receipt_verifies_offline_and_names_what_it_rests_on(
    client: AsyncTestClient[Any], people: Cast,
) -> None:
    body = await _receipt(people.carrier, NUMBER)
    plain = await trace(people.carrier, NUMBER)
    assert {k: v for k, v in body.items() if k != "receipt"} == plain
    verified = receipts.verify(body["receipt"], await _node_key(client))
    assert verified.answer == plain
    kinds = sorted(r.type for r in verified.records)
    assert kinds == ["entrustment", "member", "member", "member", "resource",
                     "resource_confirmation", "resource_filing"]
    assert {r.id for r in verified.records if r.type == "member"} == {
        people.carrier.id, people.agency.id, people.lender.id}
    text = receipts.summary(verified)
    assert "traceable" in text
    assert people.lender.id in text


async def test_every_changed_byte_fails(client: AsyncTestClient[Any], people: Cast) -> None:
    token = (await _receipt(people.carrier, NUMBER))["receipt"]
    key = await _node_key(client)
    for i, char in enumerate(token):
        changed = token[:i] + ("B" if char == "A" else "A") + token[i + 1:]
        with pytest.raises(ReceiptError):
            receipts.verify(changed, key)


async def test_another_key_or_a_rebuilt_receipt_fails(
    client: AsyncTestClient[Any], people: Cast,
) -> None:
    token = (await _receipt(people.carrier, NUMBER))["receipt"]
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(ReceiptError):
        receipts.verify(token, public_jwk_of(stranger))
    # Re-signed by a stranger over altered claims: the checkpoints are still the node's.
    claims = msgspec.convert(jwt.decode(token, options={"verify_signature": False}),
                             receipts.ReceiptClaims)
    forged = receipts.sign(claims, stranger, "x")
    with pytest.raises(ReceiptError, match="checkpoint"):
        receipts.verify(forged, public_jwk_of(stranger))
    # A record whose data was changed no longer hashes to its entry.
    first = claims.records[0]
    altered = msgspec.structs.replace(
        claims, records=[msgspec.structs.replace(first, data={"forged": True}),
                         *claims.records[1:]])
    with pytest.raises(ReceiptError):
        receipts.verify(receipts.sign(altered, stranger, "x"), public_jwk_of(stranger))


async def test_an_unregistered_number_has_a_receipt_resting_on_nothing(
    client: AsyncTestClient[Any], people: Cast,
) -> None:
    body = await _receipt(people.carrier, "+8613900000001")
    assert body["reason"] == "unregistered"
    verified = receipts.verify(body["receipt"], await _node_key(client))
    assert verified.records == []


@pytest.mark.parametrize("body", [{}, {"value": 5}, {"value": "x", "at": "soon"},
                                  {"value": "x", "extra": 1}])
async def test_bad_receipt_requests_are_422(people: Cast, body: dict[str, Any]) -> None:
    answer = await people.carrier.post("/v1/trace/receipt", body)
    assert answer.status_code == 422, answer.text


async def _synced(*nodes_: RunningNode) -> None:
    async def check() -> bool:
        for home in nodes_:
            head = await chain_digest(home.db, home.node_id)
            for other in nodes_:
                if other is not home and await chain_digest(other.db, home.node_id) != head:
                    return False
                seen = await other.db.fetchval(
                    "SELECT max(size) FROM tlog_checkpoints WHERE origin = $1", home.node_id)
                if other is not home and seen != head[0]:
                    return False
        return True

    await eventually(check, within=30)


async def test_a_receipt_resting_on_a_peers_records_carries_the_peers_proofs(
    databases: TemplateDatabases, tmp_path: Path,
) -> None:
    async with nodes(databases, tmp_path, "node-tel", "node-fin") as (tel, fin):
        await pair(tel, fin)
        carrier = await admit_member(tel.operator, "carrier")
        agency = await admit_member(fin.operator, "collection_agency")
        lender = await admit_member(fin.operator, "lender", subtype="consumer_finance_company")

        async def agency_held() -> bool:
            return (await tel.operator.get(f"/v1/members/{agency.id}")).status_code == 200
        await eventually(agency_held)
        resource = await supply(carrier, agency, NUMBER)

        async def resource_held() -> bool:
            return bool((await trace(agency, NUMBER))["reason"] != "unregistered")
        await eventually(resource_held)
        await confirm(agency, resource["id"])
        await file(lender, resource["id"], (await entrust(lender, agency))["id"])
        await _synced(tel, fin)

        body = await _receipt(fin.client_for(lender.signer), NUMBER)
        assert body["traceable"] is True
        fin_key, tel_key = await _node_key(fin.http), await _node_key(tel.http)
        verified = receipts.verify(body["receipt"], fin_key)
        origins = {(r.type, r.origin) for r in verified.records}
        assert ("resource", "node-tel") in origins
        assert ("resource_confirmation", "node-fin") in origins
        # A checker that pins the telecom node's key itself gets the same answer ...
        receipts.verify(body["receipt"], fin_key, {"node-tel": tel_key})
        # ... and one that pins another key for it refuses the receipt.
        with pytest.raises(ReceiptError, match="node-tel"):
            receipts.verify(body["receipt"], fin_key,
                           {"node-tel": public_jwk_of(Ed25519PrivateKey.generate())})


async def test_registry_verify_receipt_checks_a_file(
    client: AsyncTestClient[Any], people: Cast, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main

    body = await _receipt(people.carrier, NUMBER)
    kept, key = tmp_path / "receipt.json", tmp_path / "node.jwk"
    kept.write_text(json.dumps(body))
    key.write_text(json.dumps(await _node_key(client)))
    assert main(["verify-receipt", str(kept), "--node-key", str(key)]) == 0
    shown = capsys.readouterr().out
    assert "traceable" in shown
    assert people.agency.id in shown
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**body, "receipt": _with_signature_altered(body["receipt"])}))
    assert main(["verify-receipt", str(tampered), "--node-key", str(key)]) == 1
    assert "does not verify" in capsys.readouterr().err
    stranger = json.dumps(public_jwk_of(Ed25519PrivateKey.generate()))
    assert main(["verify-receipt", str(kept), "--node-key", stranger]) == 1


def _with_signature_altered(token: str) -> str:
    """The token with one fully significant character of its signature changed (the last
    one carries padding bits, so changing it may alter nothing)."""
    head, _, signature = token.rpartition(".")
    changed = "B" if signature[0] == "A" else "A"
    return f"{head}.{changed}{signature[1:]}"


def _claims(token: str) -> receipts.ReceiptClaims:
    return msgspec.convert(jwt.decode(token, options={"verify_signature": False}),
                           receipts.ReceiptClaims)


def _flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _tampered(claims: receipts.ReceiptClaims) -> dict[str, receipts.ReceiptClaims]:
    first, rest = claims.records[0], claims.records[1:]
    replace = msgspec.structs.replace

    def record(**changes: Any) -> receipts.ReceiptClaims:
        return replace(claims, records=[replace(first, **changes), *rest])

    no_member = [r for r in claims.records if r.type != "member" or r.id != claims.answer[
        "user"]["id"]]
    stranger_log = receipts.LogHead("node-else", claims.logs[0].checkpoint, {"kty": "EC"})
    return {
        "no checkpoint": record(size=first.size + 1),
        "no checkpoint of": record(origin="node-else"),
        "does not hash to data_hash": record(data={"forged": True}),
        "entry does not hash": record(id=first.id + "x"),
        "not in its log": record(proof=[_flip_b64(first.proof[0]), *first.proof[1:]]),
        "not in its log:": record(proof=["%%%"]),
        "shows no record": replace(claims, records=no_member),
        "no Ed25519 key": replace(claims, logs=[*claims.logs, stranger_log]),
    }


async def test_every_refusal_of_a_receipt_signed_by_the_node_itself(
    client: AsyncTestClient[Any], people: Cast, data_dir: Path,
) -> None:
    key = load_private_key(data_dir / "node_key.pem")
    node_jwk = await _node_key(client)
    token = (await _receipt(people.carrier, NUMBER))["receipt"]
    claims = _claims(token)
    assert claims.records
    for reason, altered in _tampered(claims).items():
        with pytest.raises(ReceiptError, match=reason.rstrip(":")):
            receipts.verify(receipts.sign(altered, key, node_jwk["kid"]), node_jwk)
    # The header must say what the receipt is, the key must be Ed25519, and the token
    # must be three canonical base64url segments.
    other_typ = jwt.encode(msgspec.to_builtins(claims), key, algorithm="EdDSA",
                           headers={"kid": node_jwk["kid"], "typ": "JWT"})
    for bad in (other_typ, token.replace(".", "*", 1), "a.b", token + ".", "a.b.c"):
        with pytest.raises(ReceiptError):
            receipts.verify(bad, node_jwk)
    with pytest.raises(ReceiptError, match="not an Ed25519 JWK"):
        receipts.verify(token, {"kty": "EC"})
