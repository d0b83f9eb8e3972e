"""A trace receipt whose records cannot be read because the database does not answer is
503 `unavailable` with Retry-After and a problem body, never a 500 or a hang.

The request must reach the handler: its nonce is spent on the bookkeeping pool, so only the
pool the receipt reads its records from is pointed at a database out of reach (a port that
refuses, or a server that takes the connection and never answers, as a frozen one does).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import pytest
from litestar import Litestar

from registry import db
from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases
from tests.support.nodes import RunningNode, nodes
from tests.support.whitelist import IN_WINDOW, cast, confirm, entrust, file, supply

NUMBER = "+8613900139000"
TIMEOUT = 1.0  # the unreachable pool's bound on every wait, as REGISTRY_DB_TIMEOUT is


@asynccontextmanager
async def _refusing() -> AsyncIterator[str]:
    """A DSN whose port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"postgresql://postgres@127.0.0.1:{port}/registry"


@asynccontextmanager
async def _frozen() -> AsyncIterator[str]:
    """A DSN whose server accepts the connection and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"postgresql://postgres@127.0.0.1:{server.sockets[0].getsockname()[1]}/registry"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def _records_out_of_reach(running: RunningNode, dsn: str) -> AsyncIterator[None]:
    app = running.server.config.app
    assert isinstance(app, Litestar)
    node = app.state.node
    real = node.pool
    unreachable = await db.create_pool(dsn, 0, 2, seconds=TIMEOUT)
    node.pool = unreachable
    node.extras.pop("receipt_proofs", None)  # nothing proven a moment ago to answer from
    try:
        yield
    finally:
        node.pool = real
        unreachable.terminate()


@pytest.fixture(scope="module")
async def node(
    databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningNode]:
    # Served in the test's own event loop, so a pool made here is one the app can use.
    async with nodes(databases, tmp_path_factory.mktemp("receipt-faults"), "node-r") as (
            running,):
        yield running


@pytest.fixture(scope="module")
async def carrier(node: RunningNode) -> SignedClient:
    people = await cast(node.operator)
    resource = await supply(people.carrier, people.agency, NUMBER)
    await confirm(people.agency, resource["id"])
    await file(people.lender, resource["id"], (await entrust(people.lender, people.agency))["id"])
    return people.carrier


@pytest.mark.parametrize("unreachable", [_refusing, _frozen], ids=["refused", "frozen"])
async def test_a_receipt_with_its_database_out_of_reach_is_503(
    node: RunningNode, carrier: SignedClient, unreachable: Any,
) -> None:
    asked = {"value": NUMBER, "at": IN_WINDOW}
    async with unreachable() as dsn, _records_out_of_reach(node, dsn):
        began = time.monotonic()
        answer = await carrier.post("/v1/trace/receipt", asked)
        took = time.monotonic() - began
        # Meanwhile a plain trace is answered from the index: the request was signed and
        # accepted, so the 503 above is the receipt's own records out of reach.
        plain = await carrier.get(f"/v1/trace/{quote(NUMBER)}?at={quote(IN_WINDOW)}")
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert took < 2 * TIMEOUT + 3.0  # bounded by the timeout (and a loaded machine), no hang
    assert plain.status_code == 200, plain.text
    assert plain.json()["traceable"] is True
    # The database back: the same request is answered with its receipt.
    again = await carrier.post("/v1/trace/receipt", asked)
    assert again.status_code == 200, again.text
    assert again.json()["traceable"] is True
    assert again.json()["receipt"]


@pytest.mark.parametrize("unreachable", [_refusing, _frozen], ids=["refused", "frozen"])
async def test_a_call_report_with_its_database_out_of_reach_is_503_and_counts_nothing(
    node: RunningNode, carrier: SignedClient, unreachable: Any,
) -> None:
    debtor = "+8613912340000" if unreachable is _refusing else "+8613912340001"
    call = {"caller": NUMBER, "callee": debtor, "started_at": IN_WINDOW,
            "duration_s": 30, "channel": "voice"}
    async with unreachable() as dsn, _records_out_of_reach(node, dsn):
        began = time.monotonic()
        answer = await carrier.post("/v1/contacts", {"items": [call]})
        took = time.monotonic() - began
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "unavailable"
    assert took < 2 * TIMEOUT + 3.0
    # Back: the call was never counted, so it is new now, not a repeat.
    again = await carrier.post("/v1/contacts", {"items": [call]})
    assert again.status_code == 200, again.text
    assert again.json()["results"][0]["duplicate"] is False
