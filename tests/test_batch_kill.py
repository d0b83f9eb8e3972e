"""Batch ingest under a crash (issue 14): `registry serve` is killed with SIGKILL while
carriers' supply batches and agencies' confirm batches are in flight. Every acknowledged
batch is present whole, every other one whole or not at all, each record has its entry in
the change log, each committed request one evidence row, and the chain still verifies."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
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


@dataclass
class Batch:
    """A batch sent: its numbers, the ids answered for its supply (None: no answer), and
    whether its confirmation was sent and then answered."""

    values: list[str]
    ids: list[str] | None = None
    confirm_sent: bool = False
    confirmed: bool = False


async def _send_until_killed(carrier: Remote, agency: Remote, assignee: SignedClient,
                             client: int, sent: list[Batch]) -> None:
    for round_ in range(1000):
        first = (client * 1000 + round_) * BATCH
        batch = Batch([f"+86137{n:08d}" for n in range(first, first + BATCH)])
        sent.append(batch)
        try:
            answer = await carrier.send("POST", "/v1/resources/batch", {
                "items": [supply_body(assignee, v) for v in batch.values]})
        except httpx.TransportError:
            return
        assert answer.status_code == 201, answer.text
        batch.ids = answer.json()["ids"]
        batch.confirm_sent = True
        try:
            answer = await agency.send("POST", "/v1/resources/confirm", {"ids": batch.ids})
        except httpx.TransportError:
            return
        assert answer.status_code == 200, answer.text
        batch.confirmed = True


async def test_a_killed_node_keeps_every_batch_whole(
    operator: SignedClient, db: asyncpg.Connection, data_dir: Path, database_url: str,
    tmp_path: Path,
) -> None:
    c = await cast(operator)
    sent: list[Batch] = []
    with served_registry(tmp_path, database_url=database_url, node_id=NODE_ID,
                         data_dir=data_dir, workers=2, ready_within=60,
                         env={"REGISTRY_SYNC": "off"}) as node:
        carrier, agency = Remote(node.base, c.carrier), Remote(node.base, c.agency)
        senders = [asyncio.create_task(_send_until_killed(carrier, agency, c.agency, n, sent))
                   for n in range(CLIENTS)]
        # Kill once a few batches of each kind are acknowledged and more are in flight.
        for _ in range(600):
            if sum(b.confirmed for b in sent) >= 3:
                break
            await asyncio.sleep(0.05)
        kill_hard(node)
        for sender in senders:
            with contextlib.suppress(httpx.TransportError):
                await asyncio.wait_for(sender, 30)

    acknowledged = [b for b in sent if b.ids is not None]
    assert len(acknowledged) >= 3
    # Each client had a batch in flight when the node died.
    unanswered = (len(sent) - len(acknowledged)
                  + sum(b.confirm_sent and not b.confirmed for b in sent))
    assert unanswered == CLIENTS
    for b in sent:
        held = await db.fetch("SELECT id FROM resources WHERE value = ANY($1)", b.values)
        if b.ids is not None:
            assert sorted(r["id"] for r in held) == sorted(b.ids)
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
        if b.confirm_sent:
            confirmed = await db.fetchval(
                "SELECT count(*) FROM resource_confirmations WHERE resource_id = ANY($1)",
                b.ids)
            assert confirmed in ((BATCH,) if b.confirmed else (0, BATCH))
    report = await verify_node(db, NODE_ID)
    assert report.ok, report.breaks

    # The node comes back on what the crash left, and answers for what it acknowledged.
    (tmp_path / "again").mkdir()
    with served_registry(tmp_path / "again", database_url=database_url, node_id=NODE_ID,
                         data_dir=data_dir, ready_within=60,
                         env={"REGISTRY_SYNC": "off"}) as node:
        traced: dict[str, Any] = await Remote(node.base, c.carrier).trace(
            acknowledged[0].values[0])
        assert traced["kind"] == "voice"
        assert traced["reason"] != "unregistered"
