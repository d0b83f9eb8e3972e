"""Malformed input to the intel endpoints is a 4xx problem, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import make_prc_id

CURSOR_OF_WRONG_SHAPE = "WyJhIl0"  # ["a"]


@pytest.fixture(scope="module")
async def agency(operator: SignedClient) -> SignedClient:
    return await admit_member(operator, "collection_agency")


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("GET", "/v1/collector-filings?status=bogus", None),
        ("GET", "/v1/collector-filings?cursor=%%%", None),
        ("GET", f"/v1/collector-filings?cursor={CURSOR_OF_WRONG_SHAPE}", None),
        ("GET", f"/v1/collector-checks/audit?cursor={CURSOR_OF_WRONG_SHAPE}", None),
        ("GET", f"/v1/blackmarket/groups?cursor={CURSOR_OF_WRONG_SHAPE}", None),
        ("GET", "/v1/blackmarket/groups?category=bogus", None),
        ("GET", f"/v1/risk-events?cursor={CURSOR_OF_WRONG_SHAPE}", None),
        ("GET", "/v1/risk-events?late=maybe", None),
        ("POST", "/v1/collector-filings", {"id_type": "prc_id", "id_number": 12345}),
        ("POST", "/v1/collector-filings", [make_prc_id()]),
        ("POST", "/v1/collector-checks", {"id_type": "prc_id"}),
        ("POST", "/v1/collector-checks", {"id_type": "prc_id", "id_number": "x" * 10000}),
        ("POST", "/v1/blackmarket/groups", {"name": "x", "category": "other", "tlp": "white"}),
        ("POST", "/v1/blackmarket/groups",
         {"name": "x", "category": "other", "tlp": "green",
          "indicators": [{"type": "url", "value": "http://[::1"}]}),
        ("POST", "/v1/blackmarket/groups",
         {"name": "x", "category": "other", "tlp": "green",
          "indicators": [{"type": "domain", "value": "a..b"}]}),
        ("POST", "/v1/blackmarket/match", {"indicators": [{"type": "fax", "value": "1"}]}),
        ("POST", "/v1/blackmarket/sightings", {"type": "qq", "value": "12", "seen_at": "now"}),
        ("POST", "/v1/risk-events", {"category": "other", "summary": "x",
                                     "discovered_at": "2026-13-01T00:00:00Z"}),
        ("POST", "/v1/collector-filings/nope/review", {"decision": "publish", "reason": "x"}),
    ],
)
async def test_malformed_requests_are_problems(
    agency: SignedClient, operator: SignedClient, method: str, target: str, body: Any,
) -> None:
    client = operator if "/review" in target or "audit" in target else agency
    answer = await client.request(method, target, json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
