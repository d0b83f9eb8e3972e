"""Supervising agencies over HTTP (API.md §11, Articles 17, 18): commitments, evaluations
and their calendar at its edges, rectifications, a failed one ending the entrustment so its
numbers trace `no_principal`, `agency_status`, and subcontracts seen by the primary agency."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from registry.entrustments.rules import today
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import cast, entrust, trace, traceable_number

ALL_FOUR = ["no_subcontracting", "confidentiality", "accept_supervision", "accept_regulators"]
SCORES = {"compliance": 90, "effectiveness": 80, "data_security": 85, "records": 70,
          "complaints": 95}


def years_ago(day: date, years: int = 1) -> date:
    return day.replace(year=day.year - years)


@pytest.fixture(scope="module")
async def parties(operator: SignedClient) -> tuple[SignedClient, SignedClient]:
    return await admit_member(operator, "lender"), await admit_member(operator, "collection_agency")


async def entrusted(lender: SignedClient, agency: SignedClient, starts: date, ends: date,
                    **fields: Any) -> dict[str, Any]:
    return await entrust(lender, agency, starts_on=starts.isoformat(),
                         ends_on=ends.isoformat(), **fields)


async def test_commitments_only_by_the_agency_and_only_all_four(
    parties: tuple[SignedClient, SignedClient], operator: SignedClient, db: Any,
) -> None:
    lender, agency = parties
    made = await entrust(lender, agency)
    assert made["commitments"] is None
    target = f"/v1/entrustments/{made['id']}/commitments"
    assert (await lender.post(target, {"commitments": ALL_FOUR})).status_code == 403
    stranger = await admit_member(operator, "collection_agency")
    assert (await stranger.post(target, {"commitments": ALL_FOUR})).status_code == 404
    for partial in (ALL_FOUR[:3], [*ALL_FOUR[:3], ALL_FOUR[0]], [*ALL_FOUR, "other"], []):
        answer = await agency.post(target, {"commitments": partial})
        assert answer.status_code == 422, (partial, answer.text)
        assert answer.json()["errors"][0]["field"].startswith("commitments")
    signed = await agency.post(target, {"commitments": list(reversed(ALL_FOUR))})
    assert signed.status_code == 201, signed.text
    assert sorted(signed.json()["commitments"]) == sorted(ALL_FOUR)
    again = await agency.post(target, {"commitments": ALL_FOUR})
    assert again.status_code == 409
    seen = (await lender.get(f"/v1/entrustments/{made['id']}")).json()
    assert seen["commitments"]["id"] == signed.json()["id"]
    assert seen["commitments"]["agency_id"] == agency.id
    # The agency's signed token is kept beside the record, and the record is logged.
    token = await db.fetchval(
        "SELECT token FROM write_evidence WHERE record_type = 'entrustment_commitment'"
        " AND record_id = $1", signed.json()["id"])
    assert token.count(".") == 2
    assert await db.fetchval("SELECT count(*) FROM change_log WHERE type ="
                             " 'entrustment_commitment' AND record_id = $1",
                             signed.json()["id"]) == 1


async def test_evaluations_only_by_the_lender_scores_0_to_100(
    parties: tuple[SignedClient, SignedClient], operator: SignedClient,
) -> None:
    lender, agency = parties
    made = await entrust(lender, agency)
    target = f"/v1/entrustments/{made['id']}/evaluations"
    body = {"period_end": "2026-06-30", "grade": "B", "scores": SCORES, "summary": "半年度评估"}
    assert (await agency.post(target, body)).status_code == 403
    other = await admit_member(operator, "lender")
    assert (await other.post(target, body)).status_code == 404
    for score in (-1, 101, 50.5, None):
        bad = await lender.post(target, {**body, "scores": {**SCORES, "records": score}})
        assert bad.status_code == 422, (score, bad.text)
        assert "scores.records" in bad.json()["errors"][0]["field"], bad.text
    changes: list[tuple[dict[str, Any], str]] = [
        ({"grade": "E"}, "grade"), ({"scores": {"compliance": 1}}, "scores"),
        ({"period_end": "2025-12-31"}, "period_end"),
        ({"period_end": (today() + timedelta(days=1)).isoformat()}, "period_end"),
        ({"summary": " "}, "summary")]
    for change, field in changes:
        bad = await lender.post(target, {**body, **change})
        assert bad.status_code == 422, (change, bad.text)
        assert field in bad.json()["errors"][0]["field"], bad.text
    for edge in (0, 100):
        ok = await lender.post(target, {**body, "scores": {**SCORES, "compliance": edge}})
        assert ok.status_code == 201, ok.text
    seen = (await agency.get(f"/v1/entrustments/{made['id']}")).json()
    assert [e["scores"]["compliance"] for e in seen["evaluations"]] == [0, 100]
    assert seen["evaluations"][0]["grade"] == "B"


@pytest.mark.parametrize(("shift", "overdue"), [(-1, False), (0, False), (1, True)])
async def test_evaluation_due_a_year_after_the_start_at_its_edges(
    parties: tuple[SignedClient, SignedClient], shift: int, overdue: bool,
) -> None:
    """Due the day before today, today, or yesterday: only the last is overdue."""
    lender, agency = parties
    on = today()
    starts = years_ago(on) - timedelta(days=shift)
    made = await entrusted(lender, agency, starts, on + timedelta(days=400))
    assert made["evaluation_due_on"] == (on - timedelta(days=shift)).isoformat()
    assert made["evaluation_overdue"] is overdue


@pytest.mark.parametrize(("shift", "overdue"), [(-1, False), (0, False), (1, True)])
async def test_evaluation_due_30_days_before_the_end_at_its_edges(
    parties: tuple[SignedClient, SignedClient], shift: int, overdue: bool,
) -> None:
    lender, agency = parties
    on = today()
    made = await entrusted(lender, agency, on - timedelta(days=100),
                           on + timedelta(days=30 - shift))
    assert made["evaluation_due_on"] == (on - timedelta(days=shift)).isoformat()
    assert made["evaluation_overdue"] is overdue


@pytest.mark.parametrize(("shift", "overdue"), [(-1, False), (0, False), (1, True)])
async def test_evaluation_due_a_year_after_the_last_one_at_its_edges(
    parties: tuple[SignedClient, SignedClient], shift: int, overdue: bool,
) -> None:
    lender, agency = parties
    on = today()
    made = await entrusted(lender, agency, years_ago(on, 3), on + timedelta(days=400))
    assert made["evaluation_overdue"] is True  # never evaluated in three years
    period_end = years_ago(on) - timedelta(days=shift)
    answer = await lender.post(f"/v1/entrustments/{made['id']}/evaluations", {
        "period_end": period_end.isoformat(), "grade": "A", "scores": SCORES,
        "summary": "年度评估"})
    assert answer.status_code == 201, answer.text
    seen = (await lender.get(f"/v1/entrustments/{made['id']}")).json()
    assert seen["evaluation_due_on"] == (on - timedelta(days=shift)).isoformat()
    assert seen["evaluation_overdue"] is overdue


async def test_rectifications_overdue_at_their_edges(
    parties: tuple[SignedClient, SignedClient], operator: SignedClient, db: Any,
) -> None:
    lender, agency = parties
    made = await entrust(lender, agency)
    target = f"/v1/entrustments/{made['id']}/rectifications"
    on = today()
    body = {"cause": "consumer_harm", "due_on": on.isoformat(), "summary": "整改投诉处理"}
    assert (await agency.post(target, body)).status_code == 403
    assert (await (await admit_member(operator, "lender")).post(target, body)).status_code == 404
    for change, field in [({"cause": "bad_luck"}, "cause"),
                          ({"due_on": (on - timedelta(days=1)).isoformat()}, "due_on"),
                          ({"summary": ""}, "summary")]:
        bad = await lender.post(target, {**body, **change})
        assert bad.status_code == 422, (change, bad.text)
        assert field in bad.json()["errors"][0]["field"]
    opened = []
    for _ in range(3):
        answer = await lender.post(target, body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "open"
        opened.append(answer.json()["id"])
    # Time passes: due tomorrow, due today, due yesterday.
    for rectification_id, shift in zip(opened, (-1, 0, 1), strict=True):
        await db.execute("UPDATE rectifications SET due_on = $2 WHERE id = $1",
                         rectification_id, on - timedelta(days=shift))
    seen = (await lender.get(f"/v1/entrustments/{made['id']}")).json()
    assert [r["overdue"] for r in seen["rectifications"]] == [False, False, True]
    got = await agency.get(f"/v1/rectifications/{opened[2]}")
    assert got.status_code == 200
    assert got.json()["overdue"] is True
    closed = await lender.post(f"/v1/rectifications/{opened[2]}/close",
                               {"outcome": "rectified", "summary": "已整改"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["overdue"]) == ("closed", False)
    again = await lender.post(f"/v1/rectifications/{opened[2]}/close",
                              {"outcome": "failed", "summary": "x"})
    assert again.status_code == 409
    assert (await agency.post(f"/v1/rectifications/{opened[1]}/close",
                              {"outcome": "failed", "summary": "x"})).status_code == 403
    still = (await lender.get(f"/v1/entrustments/{made['id']}")).json()
    assert still["ended"] is False


async def test_a_failed_rectification_ends_the_entrustment_and_its_numbers_stop_tracing(
    operator: SignedClient,
) -> None:
    c = await cast(operator)
    made = await traceable_number(c, "+8613800138071")
    assert (await trace(c.carrier, "+8613800138071", at=None))["traceable"] is True
    entrustment_id = made["entrustment"]["id"]
    opened = await c.lender.post(f"/v1/entrustments/{entrustment_id}/rectifications", {
        "cause": "personal_data_incident", "due_on": today().isoformat(),
        "summary": "客户信息外泄"})
    closed = await c.lender.post(f"/v1/rectifications/{opened.json()['id']}/close",
                                 {"outcome": "failed", "summary": "逾期未整改"})
    assert closed.status_code == 200, closed.text
    ended = (await c.lender.get(f"/v1/entrustments/{entrustment_id}")).json()
    assert ended["ended"] is True
    assert "failed" in ended["end_reason"]
    assert "逾期未整改" in ended["end_reason"]
    result = await trace(c.carrier, "+8613800138071", at=None)
    assert (result["traceable"], result["reason"]) == (False, "no_principal")
    refused = await c.lender.post(f"/v1/entrustments/{entrustment_id}/rectifications", {
        "cause": "consumer_harm", "due_on": today().isoformat(), "summary": "x"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "entrustment_ended"


async def test_agency_status_on_every_answer(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    made = await entrust(lender, agency)
    assert made["agency_status"] == "active"
    await operator.post(f"/v1/members/{agency.id}/status",
                        {"status": "suspended", "reason": "违规"})
    listed = (await lender.get("/v1/entrustments")).json()["items"]
    assert [e["agency_status"] for e in listed] == ["suspended"]
    assert (await lender.get(f"/v1/entrustments/{made['id']}")).json()[
        "agency_status"] == "suspended"


async def test_subcontracts_seen_by_the_primary_agency_and_never_to_itself(
    operator: SignedClient,
) -> None:
    lender = await admit_member(operator, "lender")
    primary = await admit_member(operator, "collection_agency")
    sub_agency = await admit_member(operator, "collection_agency")
    parent = await entrust(lender, primary, subcontracting_allowed=True)
    same = await lender.post("/v1/entrustments", {
        "agency_id": primary.id, "starts_on": "2026-01-01", "ends_on": "2027-12-31",
        "parent_id": parent["id"]})
    assert same.status_code == 409
    assert same.json()["code"] == "subcontract_to_same_agency"
    sub = await entrust(lender, sub_agency, parent_id=parent["id"])
    assert (await primary.get(f"/v1/entrustments/{sub['id']}")).status_code == 200
    listed = {e["id"] for e in (await primary.get("/v1/entrustments")).json()["items"]}
    assert listed == {parent["id"], sub["id"]}
    # The subcontracted agency sees its own, not the parent made with another agency.
    assert (await sub_agency.get(f"/v1/entrustments/{parent['id']}")).status_code == 404
    # Reading is not running it: the primary agency may not end the subcontract.
    end = await primary.post(f"/v1/entrustments/{sub['id']}/end", {"reason": "x"})
    assert end.status_code == 403
