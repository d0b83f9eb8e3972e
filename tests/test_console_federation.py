"""The overview's federation panel: each peer's lag and last error, and resuming a fault."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.settings import Settings
from tests.conftest import NODE_ID
from tests.support.console import csrf_of, https_client, make_console_operator, sign_in


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    # No background pulls: the peers below are made up, and their state must stay put.
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    sync_enabled=False)


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with https_client(app) as test_client:
        yield test_client


async def test_peers_show_lag_and_errors_and_a_fault_can_be_resumed(
    client: AsyncTestClient[Any], db: asyncpg.Connection, data_dir: Path,
) -> None:
    # Peers as the puller leaves them (no network here): one behind, one stopped on a fault.
    await db.execute(
        "INSERT INTO peers (node_id, url, send_types) VALUES"
        " ('telecom-assoc', 'https://telecom.example', '{member}'),"
        " ('region-east', 'https://east.example', '{member}')")
    await db.execute(
        "INSERT INTO sync_state (peer, applied_seq, peer_head_seq, last_pull_at, last_error,"
        " fault, fault_at) VALUES"
        " ('telecom-assoc', 90, 120, now(), 'timed out', NULL, NULL),"
        " ('region-east', 5, 5, now(), NULL, 'bad checkpoint signature', now())")
    staff = await make_console_operator(db, data_dir)
    assert (await sign_in(client, staff)).status_code == 303
    overview = await client.get("/console")
    assert "telecom-assoc" in overview.text
    assert "<td>30</td>" in overview.text  # the lag: 120 - 90
    assert "timed out" in overview.text
    assert "bad checkpoint signature" in overview.text
    resumed = await client.post("/console/peers/region-east/resume",
                                data={"csrf": csrf_of(overview.text)})
    assert resumed.status_code == 303
    assert await db.fetchval("SELECT fault FROM sync_state WHERE peer = 'region-east'") is None
    assert await db.fetchval(
        "SELECT operator_id FROM operator_audit WHERE action = 'peer_resume'") == staff.operator_id
