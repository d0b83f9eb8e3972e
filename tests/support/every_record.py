"""One node with a record of every record type, made through the API by members of every
kind: what the authority and feed-confidentiality tests walk over.

A new record type must be made here too: tests/test_record_types.py fails while MADE
misses a type of registry/record_types.py.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id
from tests.support.whitelist import confirm, entrust, file, supply

# The record types this scenario makes; kept in step with registry/record_types.py.
MADE = frozenset({
    "member", "entrustment", "resource", "resource_confirmation", "resource_filing",
    "collector_filing", "blackmarket_group", "blackmarket_sighting", "risk_event",
    "contact_report", "contact_agreement",
    "entrustment_commitment", "agency_evaluation", "rectification",
    "complaint", "complaint_response",
})


@dataclass
class EveryRecord:
    lender: SignedClient
    debt_buyer: SignedClient
    agency: SignedClient
    other_agency: SignedClient
    carrier: SignedClient
    suspended: SignedClient  # a carrier that supplied, then was suspended
    # record type -> ids of records of that type made here
    ids: dict[str, list[str]] = field(default_factory=dict)

    def readers(self) -> dict[str, SignedClient]:
        """Every kind of member that may sign a feed request."""
        return {"lender": self.lender, "debt_buyer": self.debt_buyer,
                "collection_agency": self.agency, "carrier": self.carrier,
                "suspended": self.suspended}

    def add(self, record_type: str, record_id: str) -> str:
        self.ids.setdefault(record_type, []).append(record_id)
        return record_id


async def _ok(answering: Awaitable[httpx.Response]) -> dict[str, object]:
    answer = await answering
    assert answer.status_code in (200, 201), answer.text
    made: dict[str, object] = answer.json()
    return made


async def _supervise(e: EveryRecord, entrustment_id: str) -> None:
    """The agency's commitments, the lender's evaluation and rectification (API.md §11)."""
    target = f"/v1/entrustments/{entrustment_id}"
    signed = await _ok(e.agency.post(f"{target}/commitments", {"commitments": [
        "no_subcontracting", "confidentiality", "accept_supervision", "accept_regulators"]}))
    e.add("entrustment_commitment", str(signed["id"]))
    evaluation = await _ok(e.lender.post(f"{target}/evaluations", {
        "period_end": "2026-06-30", "grade": "B", "summary": "半年度",
        "scores": {"compliance": 80, "effectiveness": 80, "data_security": 80, "records": 80,
                   "complaints": 80}}))
    e.add("agency_evaluation", str(evaluation["id"]))
    rectification = await _ok(e.lender.post(f"{target}/rectifications", {
        "cause": "consumer_harm", "due_on": "2099-12-31", "summary": "整改"}))
    e.add("rectification", str(rectification["id"]))


async def make_every_record(operator: SignedClient, numbers: str = "+86133001330") -> EveryRecord:
    """Records of every type among two lenders' and two agencies' business."""
    e = EveryRecord(
        lender=await admit_member(operator, "lender", subtype="consumer_finance_company"),
        debt_buyer=await admit_member(operator, "debt_buyer",
                                      subtype="asset_management_company"),
        agency=await admit_member(operator, "collection_agency"),
        other_agency=await admit_member(operator, "collection_agency"),
        carrier=await admit_member(operator, "carrier"),
        suspended=await admit_member(operator, "carrier"),
    )
    for member in (e.lender, e.debt_buyer, e.agency, e.other_agency, e.carrier, e.suspended):
        e.add("member", member.id)
    mine = await entrust(e.lender, e.agency)
    e.add("entrustment", str(mine["id"]))
    e.add("entrustment", str((await entrust(e.debt_buyer, e.other_agency))["id"]))
    used = await supply(e.carrier, e.agency, numbers + "01")
    e.add("resource", str(used["id"]))
    e.add("resource", str((await supply(e.suspended, e.other_agency, numbers + "02"))["id"]))
    await confirm(e.agency, str(used["id"]))
    e.add("resource_confirmation", f"rc:{used['id']}:{e.agency.id}")
    await file(e.lender, str(used["id"]), str(mine["id"]))
    e.add("resource_filing", f"rf:{used['id']}:{mine['id']}")
    await _supervise(e, str(mine["id"]))
    filing = await _ok(e.agency.post("/v1/collector-filings", filing_body(make_prc_id())))
    e.add("collector_filing", str(filing["id"]))
    for reporter, tlp in ((e.agency, "green"), (e.lender, "amber")):
        group = await _ok(reporter.post("/v1/blackmarket/groups", {
            "name": f"停息挂账{tlp}", "category": "fake_debt_relief", "tlp": tlp,
            "indicators": [{"type": "domain", "value": f"{tlp}.tingxi.example.cn"}]}))
        e.add("blackmarket_group", str(group["id"]))
    sighting = await _ok(e.debt_buyer.post("/v1/blackmarket/sightings", {
        "type": "domain", "value": "green.tingxi.example.cn",
        "seen_at": datetime.now(UTC).isoformat()}))
    e.add("blackmarket_sighting", str(sighting["id"]))
    event = await _ok(e.agency.post("/v1/risk-events", {
        "category": "other", "discovered_at": datetime.now(UTC).isoformat(),
        "summary": "测试"}))
    e.add("risk_event", str(event["id"]))
    reported = await _ok(e.carrier.post("/v1/contacts", {"items": [{
        "caller": numbers + "01", "callee": "+8613912345678",
        "started_at": datetime.now(UTC).isoformat(), "duration_s": 30, "channel": "voice"}]}))
    e.add("contact_report", str(reported["report_id"]))
    agreed = await _ok(e.lender.post("/v1/contacts/agreements", {
        "callee": "+8613912345678", "daily_limit": 5, "valid_to": "2030-01-01T00:00:00+08:00"}))
    e.add("contact_agreement", str(agreed["id"]))
    complaint = await _ok(e.carrier.post("/v1/complaints", {
        "number": numbers + "01", "received_at": datetime.now(UTC).isoformat(),
        "category": "abuse", "summary": "测试"}))
    e.add("complaint", str(complaint["id"]))
    answered = await _ok(e.agency.post(f"/v1/complaints/{complaint['id']}/responses",
                                       {"outcome": "resolved", "summary": "测试"}))
    responses = answered["responses"]
    assert isinstance(responses, list)
    e.add("complaint_response", str(responses[-1]["id"]))
    await _ok(operator.post(f"/v1/members/{e.suspended.id}/status",
                            {"status": "suspended", "reason": "test set-up"}))
    assert set(e.ids) == MADE
    return e
