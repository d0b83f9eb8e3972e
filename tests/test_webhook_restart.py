"""A webhook delivery survives a crash (API.md §14): `registry serve` is killed with SIGKILL
while its receiver holds a delivery unanswered; after a restart every event reaches the
receiver, each answered 2xx exactly once under its own id, and nothing is sent twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.settings import Settings
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.receiver import HANG, receiving
from tests.support.served import kill_hard, served_registry


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    # The in-process app only writes here; deliveries are the served node's (no slots).
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    webhook_allow_http_loopback=True, webhook_concurrency=0)


async def deliveries(db: asyncpg.Connection, member_id: str) -> list[tuple[str, int]]:
    rows = await db.fetch(
        "SELECT state, attempts FROM webhook_deliveries WHERE member_id = $1 ORDER BY event_seq",
        member_id)
    return [(r["state"], r["attempts"]) for r in rows]


async def test_a_killed_node_delivers_after_restart_once_per_id(
    operator: SignedClient, db: asyncpg.Connection, data_dir: Path, database_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    member = await admit_member(operator, "collection_agency")
    for name, value in {"REGISTRY_WEBHOOK_ALLOW_HTTP_LOOPBACK": "1",
                        "REGISTRY_WEBHOOK_TIMEOUT_SECONDS": "60",
                        "REGISTRY_WEBHOOK_POLL_SECONDS": "0.2",
                        "REGISTRY_WEBHOOK_BACKOFF_SECONDS": "0.2",
                        "REGISTRY_SYNC": "off"}.items():
        monkeypatch.setenv(name, value)
    with receiving([HANG, 200]) as receiver:
        answer = await member.request("PUT", f"/v1/members/{member.id}/webhook",
                                      json={"url": receiver.url})
        assert answer.status_code == 200, answer.text
        for status in ("suspended", "active"):
            changed = await operator.post(f"/v1/members/{member.id}/status",
                                          {"status": status, "reason": "检查"})
            assert changed.status_code == 200, changed.text
        feed: Any = (await member.get("/v1/events")).json()
        events = [e["id"] for e in feed["items"] if e["data"]["reason"] == "检查"]
        assert len(events) == 2

        # The same data directory: the same node, the same key that seals webhook secrets.
        (tmp_path / "first").mkdir()
        (tmp_path / "second").mkdir()
        with served_registry(tmp_path / "first", database_url=database_url, node_id=NODE_ID,
                             data_dir=data_dir, ready_within=60) as node:
            [held] = receiver.wait_for(1, within=20)  # the receiver holds it, unanswered
            kill_hard(node)
        assert held.answered == HANG
        assert await deliveries(db, member.id) == [("pending", 0), ("pending", 0)]

        with served_registry(tmp_path / "second", database_url=database_url, node_id=NODE_ID,
                             data_dir=data_dir, ready_within=60):
            receiver.wait_for(3, within=20)
            await asyncio.sleep(1.0)  # five polls and backoffs more: nothing further may come
            assert sorted(receiver.ids_answered_2xx()) == sorted(events)
            assert len(receiver.received) == 3
            assert receiver.received[0].headers["webhook-id"] in events
        assert await deliveries(db, member.id) == [("delivered", 1), ("delivered", 1)]
