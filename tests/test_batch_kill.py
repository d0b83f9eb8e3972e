"""Batch ingest under a crash (issue 14): `registry serve` is killed with SIGKILL while
carriers' supply batches and agencies' confirm batches are in flight. Every acknowledged
batch is present whole, every other one whole or not at all, each record has its entry in
the change log, each committed request one evidence row, and the chain still verifies."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.settings import Settings
from sync.self_check import verify_node
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.served import kill_hard, served_registry
from tests.support.whitelist import cast
from tests.test_resources_api import supply_body
from tests.test_trace_workers import Remote

BATCH = 1000
CLIENTS = 3


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir)


class Sent:
    """Each batch sent: its numbers, and the answer when one came."""

    def __init__(self) -> None:
        self.supplies: list[tuple[list[str], list[str] | None]] = []
        self.confirms: list[tuple[list[str], bool]] = []


async def _send_until_killed(carrier: Remote, agency: Remote, assignee: SignedClient,
                             client: int, sent: Sent) -> None:
    for round_ in range(1000):
        first = (client * 1000 + round_) * BATCH
        values = [f"+86137{n:08d}" for n in range(first, first + BATCH)]
        entry: tuple[list[str], list[str] | None] = (values, None)
        sent.supplies.append(entry)
        try:
            answer = await carrier.send("POST", "/v1/resources/batch", {
                "items": [supply_body(assignee, v) for v in values]})
        except httpx.TransportError:
            return
        assert answer.status_code == 201, answer.text
        ids: list[str] = answer.json()["ids"]
        sent.supplies[sent.supplies.index(entry)] = (values, ids)
        confirm = (ids, False)
        sent.confirms.append(confirm)
        try:
            answer = await agency.send("POST", "/v1/resources/confirm", {"ids": ids})
        except httpx.TransportError:
            return
        assert answer.status_code == 200, answer.text
        sent.confirms[sent.confirms.index(confirm)] = (ids, True)


async def test_a_killed_node_keeps_every_batch_whole(
    operator: SignedClient, db: asyncpg.Connection, data_dir: Path, database_url: str,
    tmp_path: Path,
) -> None:
    c = await cast(operator)
    sent = Sent()
    with served_registry(tmp_path, database_url=database_url, node_id=NODE_ID,
                         data_dir=data_dir, workers=2, ready_within=60,
                         env={"REGISTRY_SYNC": "off"}) as node:
        carrier, agency = Remote(node.base, c.carrier), Remote(node.base, c.agency)
        senders = [asyncio.create_task(_send_until_killed(carrier, agency, c.agency, n, sent))
                   for n in range(CLIENTS)]
        # Kill once a few batches of each kind are acknowledged and more are in flight.
        for _ in range(600):
            if sum(ok for _, ok in sent.confirms) >= 3:
                break
            await asyncio.sleep(0.05)
        kill_hard(node)
        for sender in senders:
            with contextlib.suppress(httpx.TransportError):
                await asyncio.wait_for(sender, 30)

    acknowledged = [(values, ids) for values, ids in sent.supplies if ids is not None]
    assert len(acknowledged) >= 3
    # Each client had a batch in flight when the node died.
    unanswered = (len(sent.supplies) - len(acknowledged)
                  + sum(not ok for _, ok in sent.confirms))
    assert unanswered == CLIENTS
    for values, ids in sent.supplies:
        held = await db.fetch("SELECT id FROM resources WHERE value = ANY($1)", values)
        if ids is not None:
            assert sorted(r["id"] for r in held) == sorted(ids)
        else:
            assert len(held) in (0, BATCH)
        present = [r["id"] for r in held]
        logged = await db.fetchval(
            "SELECT count(*) FROM change_log WHERE type = 'resource' AND record_id = ANY($1)",
            present)
        assert logged == len(present)
        evidence = await db.fetchval(
            "SELECT count(*) FROM write_evidence WHERE record_ids && $1::text[]", present)
        assert evidence == (1 if present else 0)
    for ids, ok in sent.confirms:
        confirmed = await db.fetchval(
            "SELECT count(*) FROM resource_confirmations WHERE resource_id = ANY($1)", ids)
        assert confirmed in ((BATCH,) if ok else (0, BATCH))
    report = await verify_node(db, NODE_ID)
    assert report.ok, report.breaks

    # The node comes back on what the crash left, and answers for what it acknowledged.
    (tmp_path / "again").mkdir()
    with served_registry(tmp_path / "again", database_url=database_url, node_id=NODE_ID,
                         data_dir=data_dir, ready_within=60,
                         env={"REGISTRY_SYNC": "off"}) as node:
        traced: dict[str, Any] = await Remote(node.base, c.carrier).trace(
            acknowledged[0][0][0])
        assert traced["kind"] == "voice"
        assert traced["reason"] != "unregistered"
