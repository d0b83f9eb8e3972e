"""Members over HTTP against a real PostgreSQL: admission, listing, status, keys (API.md §4)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.client import SignedClient
from tests.support.factories import admit_member, make_uscc, member_body
from tests.support.signing import Signer


async def test_operator_admits_a_member_as_pending(operator: SignedClient) -> None:
    body = member_body("lender", subtype="consumer_finance_company")
    answer = await operator.post("/v1/members", body)
    assert answer.status_code == 201, answer.text
    member = answer.json()
    assert member["status"] == "pending"
    assert member["uscc"] == body["uscc"]
    assert member["complaints"]["process"] == "三个工作日内答复"
    got = await operator.get(f"/v1/members/{member['id']}")
    assert got.status_code == 200
    assert [h["status"] for h in got.json()["history"]] == ["pending"]


async def test_one_member_per_uscc(operator: SignedClient) -> None:
    body = member_body("collection_agency")
    assert (await operator.post("/v1/members", body)).status_code == 201
    again = await operator.post("/v1/members", {**body, "name": "另一家"})
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate"
    assert again.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"uscc": "91110000802100433C"}, "uscc"),
        ({"uscc": "9111000080210043"}, "uscc"),
        ({"kind": "bank"}, "kind"),
        ({"subtype": "pawnshop"}, "subtype"),
        ({"name": " "}, "name"),
        ({"keys": [{"kty": "RSA", "kid": "r"}]}, "keys[0].kty"),
    ],
)
async def test_invalid_member_fields_are_422_naming_the_field(
    operator: SignedClient, patch: dict[str, Any], field: str
) -> None:
    answer = await operator.post("/v1/members", {**member_body("lender"), **patch})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "invalid"
    assert field in [e["field"] for e in problem["errors"]]


async def test_real_uscc_is_accepted(operator: SignedClient) -> None:
    answer = await operator.post("/v1/members", member_body("lender", uscc="91110000802100433B"))
    assert answer.status_code in (201, 409)


async def test_every_allowed_and_refused_transition(operator: SignedClient) -> None:
    allowed = {("pending", "active"), ("pending", "removed"), ("active", "suspended"),
               ("active", "removed"), ("suspended", "active"), ("suspended", "removed")}
    statuses = ["pending", "active", "suspended", "removed"]
    for start in statuses:
        for wanted in statuses:
            member = await admit_member(operator, "collection_agency", status=start)
            answer = await operator.post(f"/v1/members/{member.id}/status",
                                         {"status": wanted, "reason": "审查"})
            if (start, wanted) in allowed:
                assert answer.status_code == 200, (start, wanted, answer.text)
                assert answer.json()["status"] == wanted
                assert answer.json()["history"][-1]["reason"] == "审查"
            else:
                assert answer.status_code == 409, (start, wanted)
                assert answer.json()["code"] == "bad_transition"


async def test_status_change_needs_a_reason(operator: SignedClient) -> None:
    member = await admit_member(operator, "lender", status="pending")
    answer = await operator.post(f"/v1/members/{member.id}/status",
                                 {"status": "active", "reason": "  "})
    assert answer.status_code == 422
    missing = await operator.post(f"/v1/members/{member.id}/status", {"status": "active"})
    assert missing.status_code == 422


async def test_members_cannot_admit_or_change_status(operator: SignedClient) -> None:
    member = await admit_member(operator, "lender")
    assert (await member.post("/v1/members", member_body("lender"))).status_code == 403
    answer = await member.post(f"/v1/members/{member.id}/status",
                               {"status": "suspended", "reason": "x"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


async def test_listing_filters_and_pages(operator: SignedClient) -> None:
    uscc = make_uscc()
    for _ in range(5):
        await admit_member(operator, "carrier")
    await admit_member(operator, "carrier", status="suspended", uscc=uscc)
    seen: list[str] = []
    cursor = None
    while True:
        target = "/v1/members?kind=carrier&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await operator.get(target)).json()
        seen += [m["id"] for m in page["items"]]
        assert all(m["kind"] == "carrier" for m in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 6
    suspended = (await operator.get("/v1/members?kind=carrier&status=suspended")).json()
    assert [m["uscc"] for m in suspended["items"]] == [uscc]
    by_uscc = (await operator.get(f"/v1/members?q={uscc}")).json()
    assert len(by_uscc["items"]) == 1


async def test_bad_query_values_are_4xx(operator: SignedClient) -> None:
    for target in ("/v1/members?limit=0", "/v1/members?limit=abc", "/v1/members?cursor=%%%"):
        answer = await operator.get(target)
        assert 400 <= answer.status_code < 500, (target, answer.text)


async def test_member_adds_and_revokes_its_own_keys(operator: SignedClient) -> None:
    member = await admit_member(operator, "collection_agency")
    second = Signer.new_es256(member.id, member.signer.audience, kid="p256")
    added = await member.post(f"/v1/members/{member.id}/keys", second.public_jwk)
    assert added.status_code == 201, added.text
    as_second = SignedClient(member.client, second)
    assert (await as_second.get(f"/v1/members/{member.id}")).status_code == 200
    revoked = await member.delete(f"/v1/members/{member.id}/keys/p256")
    assert revoked.status_code == 204
    refused = await as_second.get(f"/v1/members/{member.id}")
    assert refused.status_code == 401
    assert refused.json()["code"] == "key_revoked"


async def test_a_suspended_member_may_revoke_its_own_keys_and_nothing_more(
    operator: SignedClient,
) -> None:
    member = await admit_member(operator, "collection_agency")
    stolen = Signer.new_ed25519(member.id, member.signer.audience, kid="stolen")
    assert (await member.post(f"/v1/members/{member.id}/keys", stolen.public_jwk)
            ).status_code == 201
    other = await admit_member(operator, "collection_agency")
    assert (await operator.post(f"/v1/members/{member.id}/status",
                                {"status": "suspended", "reason": "audit"})).status_code == 200
    # a compromised key must be revocable whatever the member's standing
    revoked = await member.delete(f"/v1/members/{member.id}/keys/stolen")
    assert revoked.status_code == 204, revoked.text
    thief = await SignedClient(member.client, stolen).get(f"/v1/members/{member.id}")
    assert thief.json()["code"] == "key_revoked"
    # still no other write: not adding a key, not touching another member's keys
    fresh = Signer.new_ed25519(member.id, member.signer.audience, kid="fresh").public_jwk
    added = await member.post(f"/v1/members/{member.id}/keys", fresh)
    assert added.json()["code"] == "member_suspended"
    others = await member.delete(f"/v1/members/{other.id}/keys/{other.signer.kid}")
    assert others.status_code == 403
    assert (await other.get(f"/v1/members/{other.id}")).status_code == 200


async def test_a_member_cannot_manage_anothers_keys(operator: SignedClient) -> None:
    one = await admit_member(operator, "lender")
    other = await admit_member(operator, "lender")
    key = Signer.new_ed25519(other.id, other.signer.audience, kid="intruder").public_jwk
    answer = await one.post(f"/v1/members/{other.id}/keys", key)
    assert answer.status_code == 403


async def test_private_keys_are_refused(operator: SignedClient) -> None:
    member = await admit_member(operator, "lender")
    jwk = {**member.signer.public_jwk, "kid": "k9", "d": "AAAA"}
    answer = await member.post(f"/v1/members/{member.id}/keys", jwk)
    assert answer.status_code == 422
