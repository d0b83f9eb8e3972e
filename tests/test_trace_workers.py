"""The real server with two workers (`registry serve --workers 2`): a write is visible to
the writer's next trace at once, whichever worker answers, and to every worker within a
second when it was made elsewhere (API.md §6, "Speed")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.served import served_registry
from tests.support.whitelist import Cast, cast, confirm, entrust, file, supply


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory,
           client: Any) -> Iterator[str]:
    # Its own data directory: writes made by the test's in-process app reach these workers
    # only through the database's notifications, as a write on another host would.
    with served_registry(tmp_path_factory.mktemp("served"), database_url=database_url,
                         node_id=NODE_ID, workers=2, ready_within=30) as node:
        yield node.base


class Remote:
    """Signs as a member and sends each request on a fresh connection, so that successive
    requests land on whichever worker the kernel picks."""

    def __init__(self, base: str, member: SignedClient) -> None:
        self.base, self.signer = base, member.signer

    async def send(self, method: str, target: str, json: Any = None) -> httpx.Response:
        body = b"" if json is None else msgspec.json.encode(json)
        headers = self.signer.headers(method, target, body)
        async with httpx.AsyncClient(base_url=self.base) as fresh:
            return await fresh.request(method, target, content=body, headers=headers)

    async def trace(self, value: str) -> dict[str, Any]:
        answer = await self.send("GET", f"/v1/trace/{value}")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


@pytest.fixture(scope="module")
async def remote_cast(operator: SignedClient) -> Cast:
    return await cast(operator)


async def test_the_writer_sees_its_write_at_once_on_any_worker(
    server: str, remote_cast: Cast,
) -> None:
    c = remote_cast
    carrier, agency, lender = (Remote(server, m) for m in (c.carrier, c.agency, c.lender))
    entrustment = (await lender.send("POST", "/v1/entrustments", {
        "agency_id": c.agency.id, "starts_on": "2026-01-01", "ends_on": "2027-12-31"})).json()
    for n in range(8):
        value = f"+861350013{n:04d}"
        answer = await carrier.send("POST", "/v1/resources", {
            "kind": "voice", "value": value, "assignee_id": c.agency.id})
        assert answer.status_code == 201, answer.text
        assert (await carrier.trace(value))["reason"] == "unconfirmed"
        resource_id = answer.json()["id"]
        assert (await agency.send("POST", f"/v1/resources/{resource_id}/confirm")).is_success
        assert (await agency.trace(value))["reason"] == "no_principal"
        filed = await lender.send("POST", f"/v1/resources/{resource_id}/filings",
                                  {"entrustment_id": entrustment["id"]})
        assert filed.status_code == 201, filed.text
        assert (await lender.trace(value))["traceable"] is True


async def settled_after(remote: Remote, value: str, wanted: Any) -> float:
    """Seconds until 20 answers in a row (on fresh connections) satisfy `wanted`."""
    started = time.monotonic()
    streak, since = 0, started
    while streak < 20:
        if wanted(await remote.trace(value)):
            streak += 1
        else:
            streak, since = 0, time.monotonic()
        assert time.monotonic() - started < 5, "the workers never agreed"
    return since - started


async def test_a_write_elsewhere_reaches_every_worker_within_a_second(
    server: str, operator: SignedClient,
) -> None:
    c = await cast(operator)
    carrier = Remote(server, c.carrier)
    value = "+8613500139999"
    made = await supply(c.carrier, c.agency, value)  # through the in-process app
    await confirm(c.agency, made["id"])
    await file(c.lender, made["id"], (await entrust(c.lender, c.agency))["id"])
    assert await settled_after(carrier, value, lambda r: r["traceable"]) < 1.0
    # A suspension made elsewhere reaches every worker too.
    await operator.post(f"/v1/members/{c.carrier.id}/status",
                        {"status": "suspended", "reason": "整改"})
    assert await settled_after(
        carrier, value, lambda r: r["reason"] == "supplier_inactive") < 1.0
    outsider = await admit_member(operator, "lender")
    assert (await Remote(server, outsider).trace(value))["reason"] == "supplier_inactive"
