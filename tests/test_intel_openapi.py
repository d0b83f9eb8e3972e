"""The intel endpoints are described in the node's OpenAPI document."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient


async def test_openapi_lists_the_intel_endpoints(client: AsyncTestClient[Any]) -> None:
    answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200, answer.text
    paths = answer.json()["paths"]
    for path in ("/v1/collector-filings", "/v1/collector-filings/{filing_id}/review",
                 "/v1/collector-checks", "/v1/collector-checks/audit",
                 "/v1/blackmarket/groups", "/v1/blackmarket/match", "/v1/blackmarket/export",
                 "/v1/risk-events", "/v1/risk-events/export",
                 "/v1/risk-events/{event_id}/updates"):
        assert path in paths, path
