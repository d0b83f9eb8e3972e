"""The contact ledger's cast: one lender with two agencies, another lender with one, each
agency calling from its own traceable number; and helpers to report calls and ask."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from registry.ledger.rules import day_of
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import confirm, entrust, file, supply

DEBTOR = "+8613912345678"
# The same debtor as people and systems write it: none of these may be stored or logged.
DEBTOR_FORMS = ["+8613912345678", "13912345678", "8613912345678", "008613912345678",
                "139-1234-5678", "139 1234 5678", "+86 139 1234 5678"]


def shanghai_day(days_from_today: int) -> str:
    """A Shanghai calendar day relative to today: yesterday and today are held in workers'
    memory, earlier days are counted by PostgreSQL."""
    return (day_of(int(time.time())) + timedelta(days=days_from_today)).isoformat()


@dataclass
class Ledger:
    carrier: SignedClient
    lender: SignedClient
    agency1: SignedClient
    agency2: SignedClient
    other_lender: SignedClient
    other_agency: SignedClient
    numbers: dict[str, str]  # agency id -> its calling number
    entrustments: dict[str, str]  # agency id -> the entrustment its number is filed under


async def agency_of(carrier: SignedClient, lender: SignedClient, agency: SignedClient,
                    number: str) -> str:
    """The agency's number supplied, confirmed and filed under a new entrustment (its id)."""
    resource = await supply(carrier, agency, number)
    await confirm(agency, resource["id"])
    entrustment = await entrust(lender, agency)
    await file(lender, resource["id"], entrustment["id"])
    return str(entrustment["id"])


async def ledger_cast(operator: SignedClient, prefix: str = "+8613800000") -> Ledger:
    carrier = await admit_member(operator, "carrier")
    lender = await admit_member(operator, "lender", subtype="consumer_finance_company")
    other = await admit_member(operator, "lender", subtype="microloan_company")
    agencies = [await admit_member(operator, "collection_agency") for _ in range(3)]
    numbers, entrustments = {}, {}
    for n, (agency, principal) in enumerate(zip(agencies, [lender, lender, other],
                                                strict=True)):
        numbers[agency.id] = f"{prefix}{n:03d}"
        entrustments[agency.id] = await agency_of(carrier, principal, agency,
                                                  numbers[agency.id])
    return Ledger(carrier, lender, agencies[0], agencies[1], other, agencies[2], numbers,
                  entrustments)


def call(caller: str, at: str, duration_s: int = 42, channel: str = "voice",
         callee: str = DEBTOR) -> dict[str, Any]:
    return {"caller": caller, "callee": callee, "started_at": at, "duration_s": duration_s,
            "channel": channel}


async def report(client: SignedClient, *calls: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await client.post("/v1/contacts", {"items": list(calls)})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def allowance(client: SignedClient, caller: str, at: str, callee: str = DEBTOR
                    ) -> dict[str, Any]:
    answer = await client.post("/v1/contacts/allowance",
                               {"caller": caller, "callee": callee, "at": at})
    assert answer.status_code == 200, answer.text
    made: dict[str, Any] = answer.json()
    return made
