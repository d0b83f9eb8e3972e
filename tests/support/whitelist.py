"""Builds whitelist scenarios through the API: carriers, agencies, lenders, entrustments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.support.client import SignedClient
from tests.support.factories import admit_member

WHOLE_YEAR = {"starts_on": "2026-01-01", "ends_on": "2027-12-31"}
IN_WINDOW = "2026-11-28T09:30:00+08:00"


@dataclass
class Cast:
    carrier: SignedClient
    agency: SignedClient
    lender: SignedClient


async def cast(operator: SignedClient) -> Cast:
    return Cast(await admit_member(operator, "carrier"),
                await admit_member(operator, "collection_agency"),
                await admit_member(operator, "lender", subtype="consumer_finance_company"))


async def supply(carrier: SignedClient, assignee: SignedClient, value: str,
                 kind: str = "voice", **fields: Any) -> dict[str, Any]:
    body = {"kind": kind, "value": value, "assignee_id": assignee.id,
            "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": "2028-01-01T00:00:00+08:00",
            **fields}
    answer = await carrier.post("/v1/resources", body)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def confirm(member: SignedClient, resource_id: str) -> None:
    answer = await member.post(f"/v1/resources/{resource_id}/confirm")
    assert answer.status_code == 200, answer.text


async def entrust(lender: SignedClient, agency: SignedClient, **fields: Any) -> dict[str, Any]:
    answer = await lender.post("/v1/entrustments",
                               {"agency_id": agency.id, **WHOLE_YEAR, **fields})
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def file(lender: SignedClient, resource_id: str, entrustment_id: str) -> None:
    answer = await lender.post(f"/v1/resources/{resource_id}/filings",
                               {"entrustment_id": entrustment_id})
    assert answer.status_code == 201, answer.text


async def traceable_number(c: Cast, value: str) -> dict[str, Any]:
    """Supply, confirm, entrust and file: every link holds."""
    resource = await supply(c.carrier, c.agency, value)
    await confirm(c.agency, resource["id"])
    entrustment = await entrust(c.lender, c.agency)
    await file(c.lender, resource["id"], entrustment["id"])
    return {"resource": resource, "entrustment": entrustment}


async def trace(client: SignedClient, value: str, at: str | None = IN_WINDOW
                ) -> dict[str, Any]:
    """The trace of `value` at `at` (None: now, as a carrier asks during a call)."""
    target = f"/v1/trace/{quote(value, safe='')}"
    if at is not None:
        target += f"?at={quote(at, safe='')}"
    answer = await client.get(target)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result
