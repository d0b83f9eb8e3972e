"""Collector filings and checks over HTTP against a real PostgreSQL (API.md §7, Art. 6(二)4)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id


@pytest.fixture(scope="module")
async def agency(operator: SignedClient) -> SignedClient:
    return await admit_member(operator, "collection_agency")


@pytest.fixture(scope="module")
async def lender(operator: SignedClient) -> SignedClient:
    return await admit_member(operator, "lender")


async def check(client: SignedClient, number: str) -> dict[str, Any]:
    answer = await client.post("/v1/collector-checks", {"id_type": "prc_id", "id_number": number})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_filing_lifecycle_and_checks(
    agency: SignedClient, lender: SignedClient, operator: SignedClient,
) -> None:
    number = make_prc_id(x=True)
    filed = await agency.post("/v1/collector-filings", filing_body(number.lower()))
    assert filed.status_code == 201, filed.text
    filing = filed.json()
    assert filing["status"] == "submitted"
    assert filing["subject"] == {"name_masked": "张*",
                                 "id_masked": number[:4] + "*" * 10 + number[-4:]}
    assert filing["evidence_sha256"] == ["ab" * 32]
    assert number not in filed.text
    assert number.lower() not in filed.text
    assert "张三" not in filed.text
    filing_id = filing["id"]

    # Before publication nothing matches.
    assert await check(lender, number) == {"listed": False, "filings": []}

    reviewed = await operator.post(f"/v1/collector-filings/{filing_id}/review",
                                   {"decision": "publish", "reason": "证据充分"})
    assert reviewed.status_code == 200, reviewed.text
    published = reviewed.json()
    assert published["status"] == "published"
    expires = datetime.fromisoformat(published["expires_at"])
    assert expires - datetime.fromisoformat(published["published_at"]) >= timedelta(days=5 * 365)

    # After publication: any member's check lists it, whatever the case of the X.
    for checker in (lender, agency):
        result = await check(checker, number.lower())
        assert result["listed"] is True
        assert result["filings"] == [{
            "id": filing_id, "violations": ["violence", "third_party_contact"],
            "published_at": published["published_at"], "filer_kind": "collection_agency",
        }]

    again = await operator.post(f"/v1/collector-filings/{filing_id}/review",
                                {"decision": "reject", "reason": "改判"})
    assert again.status_code == 409
    assert again.json()["code"] == "bad_transition"

    revoked = await operator.post(f"/v1/collector-filings/{filing_id}/revoke",
                                  {"reason": "申诉成立"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert [h["status"] for h in revoked.json()["history"]] == [
        "submitted", "published", "revoked"]
    assert await check(lender, number) == {"listed": False, "filings": []}


async def test_rejected_filings_never_match_and_the_filer_sees_the_reason(
    agency: SignedClient, lender: SignedClient, operator: SignedClient,
) -> None:
    number = make_prc_id()
    filing_id = (await agency.post("/v1/collector-filings", filing_body(number))).json()["id"]
    rejected = await operator.post(f"/v1/collector-filings/{filing_id}/review",
                                   {"decision": "reject", "reason": "证据不足"})
    assert rejected.json()["status"] == "rejected"
    seen = (await agency.get(f"/v1/collector-filings/{filing_id}")).json()
    assert seen["history"][-1]["reason"] == "证据不足"
    assert (await check(lender, number))["listed"] is False


async def test_expired_filings_stop_matching(
    agency: SignedClient, lender: SignedClient, operator: SignedClient, db: asyncpg.Connection,
) -> None:
    number = make_prc_id()
    filing_id = (await agency.post("/v1/collector-filings", filing_body(number))).json()["id"]
    await operator.post(f"/v1/collector-filings/{filing_id}/review",
                        {"decision": "publish", "reason": "ok"})
    assert (await check(lender, number))["listed"] is True
    # Five years pass.
    await db.execute("UPDATE collector_filings SET expires_at = now() - interval '1 second'"
                     " WHERE id = $1", filing_id)
    assert await check(lender, number) == {"listed": False, "filings": []}
    assert (await agency.get(f"/v1/collector-filings/{filing_id}")).json()["status"] == "expired"
    queue = await operator.get("/v1/collector-filings?status=expired")
    assert filing_id in [f["id"] for f in queue.json()["items"]]
    late_revoke = await operator.post(f"/v1/collector-filings/{filing_id}/revoke",
                                      {"reason": "x"})
    assert late_revoke.status_code == 409


async def test_only_the_filer_and_operators_see_a_filing(
    agency: SignedClient, lender: SignedClient, operator: SignedClient,
) -> None:
    filing_id = (await agency.post("/v1/collector-filings",
                                   filing_body(make_prc_id()))).json()["id"]
    assert (await agency.get(f"/v1/collector-filings/{filing_id}")).status_code == 200
    assert (await operator.get(f"/v1/collector-filings/{filing_id}")).status_code == 200
    other = await admit_member(operator, "collection_agency")
    for stranger in (lender, other):
        hidden = await stranger.get(f"/v1/collector-filings/{filing_id}")
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "not_found"
        listing = (await stranger.get("/v1/collector-filings")).json()["items"]
        assert filing_id not in [f["id"] for f in listing]
    mine = (await agency.get("/v1/collector-filings")).json()["items"]
    assert filing_id in [f["id"] for f in mine]
    assert {f["filer_id"] for f in mine} == {agency.id}


async def test_operator_queue_lists_filings_by_status(
    agency: SignedClient, operator: SignedClient,
) -> None:
    ids = [(await agency.post("/v1/collector-filings", filing_body(make_prc_id()))).json()["id"]
           for _ in range(3)]
    seen: list[str] = []
    target = "/v1/collector-filings?status=submitted&limit=2"
    while target:
        page = (await operator.get(target)).json()
        assert {f["status"] for f in page["items"]} <= {"submitted"}
        seen += [f["id"] for f in page["items"]]
        target = page["next_cursor"] and (
            f"/v1/collector-filings?status=submitted&limit=2&cursor={page['next_cursor']}")
    assert set(ids) <= set(seen)
    assert len(seen) == len(set(seen))


async def test_who_may_file_review_and_check(
    agency: SignedClient, lender: SignedClient, operator: SignedClient,
) -> None:
    carrier = await admit_member(operator, "carrier")
    assert (await carrier.post("/v1/collector-filings",
                               filing_body(make_prc_id()))).status_code == 403
    assert (await operator.post("/v1/collector-filings",
                                filing_body(make_prc_id()))).status_code == 403
    filing_id = (await lender.post("/v1/collector-filings",
                                   filing_body(make_prc_id()))).json()["id"]
    refused = await lender.post(f"/v1/collector-filings/{filing_id}/review",
                                {"decision": "publish", "reason": "mine"})
    assert refused.status_code == 403
    assert (await check(carrier, make_prc_id()))["listed"] is False
    # Checks only read: a suspended member may still make them, but not file.
    suspended = await admit_member(operator, "lender", status="suspended")
    assert (await check(suspended, make_prc_id()))["listed"] is False
    blocked = await suspended.post("/v1/collector-filings", filing_body(make_prc_id()))
    assert blocked.json()["code"] == "member_suspended"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"id_number": "110105194912310021"}, "id_number"),
        ({"violations": ["rudeness"]}, "violations[0]"),
        ({"violations": []}, "violations"),
        ({"id_type": "passport"}, "id_type"),
        ({"dismissed_on": "2026-04-01"}, "dismissed_on"),
        ({"incident_on": "2999-01-01", "dismissed_on": "2999-01-02"}, "incident_on"),
        ({"evidence_sha256": ["not-a-digest"]}, "evidence_sha256[0]"),
        ({"summary": "张三打人"}, "summary"),
    ],
)
async def test_invalid_filings_are_422_without_echoing_the_number(
    agency: SignedClient, patch: dict[str, Any], field: str,
) -> None:
    answer = await agency.post("/v1/collector-filings", filing_body(make_prc_id(), **patch))
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert "110105194912310021" not in answer.text


async def test_checks_are_audited_for_operators(
    lender: SignedClient, agency: SignedClient, operator: SignedClient,
) -> None:
    await check(lender, make_prc_id())
    assert (await lender.get("/v1/collector-checks/audit")).status_code == 403
    audit = await operator.get(f"/v1/collector-checks/audit?checker_id={lender.id}")
    assert audit.status_code == 200
    entries = audit.json()["items"]
    assert entries
    assert {e["checker_id"] for e in entries} == {lender.id}
    assert entries[0]["result"] == "not_listed"
    assert len(entries[0]["subject_hash"]) == 64
    bad = await check_raw(lender, "110105194912310021")
    assert bad.status_code == 422


async def check_raw(client: SignedClient, number: str) -> Any:
    return await client.post("/v1/collector-checks", {"id_type": "prc_id", "id_number": number})
