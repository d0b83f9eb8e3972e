"""A node whose PostgreSQL freezes (SIGSTOP) or dies (SIGKILL) under load: answers are 503
`unavailable` with Retry-After within the timeout, never 500 or a hang; `/readyz` says so in
under a second; and the same node process serves again once the database is back, `registry
serve` having restarted its embedded PostgreSQL by itself.

The database is a throwaway embedded server of this module's own (never the shared one).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.embedded_pg import EmbeddedPostgres
from api.embedded_pg.supervisor import EXIT_DATABASE_LOST, supervise
from api.settings import Settings
from api.trace_state import trace_state
from registry.db import connect
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.served import ServedNode, operator_via_cli, served_registry
from tests.support.signing import Signer

NODE_ID = "node-faults"
DB_TIMEOUT = 1.5
# connect or acquire, then one statement, a release cut short (0.5 s), and some slack
ANSWER_WITHIN = 2 * DB_TIMEOUT + 1.0
READY_WITHIN = 1.0
TARGET = "/v1/members?limit=1"
BURST = 14  # more requests at once than the pool has connections (10)


@dataclass(frozen=True)
class Node:
    served: ServedNode
    pg_dir: Path
    signer: Signer


@dataclass(frozen=True)
class Answer:
    status: int
    seconds: float
    code: str | None
    retry_after: str | None


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    with tempfile.TemporaryDirectory(prefix="registry-faults-") as tmp:
        data_dir = Path(tmp) / "node"
        with served_registry(Path(tmp), database_url=None, node_id=NODE_ID, data_dir=data_dir,
                             env={"REGISTRY_DB_TIMEOUT": str(DB_TIMEOUT)}) as served:
            _, signer = operator_via_cli(data_dir, "值班员", NODE_ID)
            yield Node(served, data_dir / "pg", signer)


def _pg_processes(pg_dir: Path) -> list[int]:
    """The postmaster and its backends: every postgres process works in the data dir."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")) == pg_dir.resolve():
                found.append(int(pid))
        except OSError:
            continue
    return found


def _postmaster(pg_dir: Path) -> int:
    return int((pg_dir / "postmaster.pid").read_text().split()[0])


@contextmanager
def frozen(pg_dir: Path) -> Iterator[None]:
    stopped = _pg_processes(pg_dir)
    assert stopped
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)


async def _ask(http: httpx.AsyncClient, signer: Signer | None, target: str = TARGET) -> Answer:
    began = time.monotonic()
    headers = signer.headers("GET", target) if signer else {}
    response = await http.get(target, headers=headers)
    code = None
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        code = response.json().get("code")
    return Answer(response.status_code, time.monotonic() - began, code,
                  response.headers.get("retry-after"))


@asynccontextmanager
async def load(http: httpx.AsyncClient, signer: Signer, clients: int) -> AsyncIterator[
        list[Answer]]:
    """Signed reads from `clients` concurrent clients until the block ends."""
    answers: list[Answer] = []
    running = True

    async def client() -> None:
        while running:
            answers.append(await _ask(http, signer))
            await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    try:
        yield answers
    finally:
        running = False
        await asyncio.gather(*tasks)


async def _until_served(http: httpx.AsyncClient, signer: Signer, within: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < within:
        if (await _ask(http, signer)).status == 200:
            return time.monotonic() - began
        await asyncio.sleep(0.2)
    pytest.fail(f"the node did not serve again within {within} s")


async def _slowness(http: httpx.AsyncClient, signer: Signer) -> float:
    """What the machine itself adds to an answer while the database is well, for the same
    burst as under the fault: the test machine is shared, and the budgets are about
    waiting on the database."""
    answers = await asyncio.gather(*[_ask(http, signer) for _ in range(BURST)],
                                   _ask(http, None, "/readyz"))
    assert {a.status for a in answers} == {200}
    return max(a.seconds for a in answers)


def _assert_unavailable(answer: Answer, slowness: float) -> None:
    assert answer.status == 503, answer
    assert answer.code == "unavailable"
    assert answer.retry_after is not None
    assert int(answer.retry_after) > 0
    assert answer.seconds < ANSWER_WITHIN + slowness, answer


async def test_a_frozen_database_is_503_within_the_timeout_and_the_node_recovers(
    node: Node,
) -> None:
    async with httpx.AsyncClient(base_url=node.served.base, timeout=60) as http:
        slowness = await _slowness(http, node.signer)
        async with load(http, node.signer, clients=4) as answers:
            await asyncio.sleep(0.5)
            with frozen(node.pg_dir):
                # more requests at once than the pool has connections: the rest must not
                # queue without end behind the stuck ones
                burst = await asyncio.gather(*[_ask(http, node.signer) for _ in range(BURST)])
                ready = await _ask(http, None, "/readyz")
                health = await _ask(http, None, "/healthz")
            await _until_served(http, node.signer, within=10)
        for answer in burst:
            _assert_unavailable(answer, slowness)
        assert ready.status == 503
        assert ready.seconds < READY_WITHIN + slowness, ready
        assert health.status == 200  # alive: a restart of the node would not help
        assert {a.status for a in answers} <= {200, 503}, answers
        assert max(a.seconds for a in answers) < ANSWER_WITHIN + slowness
        assert (await _ask(http, None, "/readyz")).status == 200
    assert node.served.process.poll() is None


async def test_a_killed_embedded_database_is_restarted_while_the_node_serves(
    node: Node,
) -> None:
    before = _postmaster(node.pg_dir)
    async with httpx.AsyncClient(base_url=node.served.base, timeout=60) as http:
        slowness = await _slowness(http, node.signer)
        async with load(http, node.signer, clients=4) as answers:
            await asyncio.sleep(0.5)
            os.kill(before, signal.SIGKILL)
            await asyncio.sleep(0.3)
            during = await _ask(http, node.signer)
            recovered_in = await _until_served(http, node.signer, within=30)
        after = _postmaster(node.pg_dir)
    assert after != before
    assert during.status in (200, 503)  # 200 only if the restart already happened
    unavailable = [a for a in answers if a.status != 200]
    for answer in unavailable:
        _assert_unavailable(answer, slowness)
    assert unavailable or during.status == 503, "no request saw the database gone"
    assert recovered_in < 30
    assert node.served.process.poll() is None  # the same node, not a restarted one


async def test_background_tasks_outlive_a_frozen_database(node: Node, own_tmp: Path) -> None:
    """A worker of our own on the node's database: its trace index follower and housekeeping
    run through a freeze, and afterwards the follower still brings in what another process
    (the served node) writes, which reaches this worker by no other way."""
    port = (node.pg_dir / "postmaster.pid").read_text().split("\n")[3]
    dsn = (f"postgresql://postgres@127.0.0.1:{port}/registry"
           f"?passfile={node.pg_dir / 'registry.pgpass'}")
    settings = Settings(database_url=dsn, node_id=NODE_ID, data_dir=own_tmp,
                        db_timeout=DB_TIMEOUT, sync_enabled=False)
    app = create_app(settings)
    async with AsyncTestClient(app) as worker:
        index = trace_state(app.state.node).index
        with frozen(node.pg_dir):
            # long enough for the follower's catch-up to time out at least once
            await asyncio.sleep(2 * DB_TIMEOUT + 1)
        async with httpx.AsyncClient(base_url=node.served.base, timeout=30) as http:
            await admit_member(SignedClient(cast(Any, http), node.signer), "lender")
        conn = await connect(dsn)
        try:
            written = await conn.fetchval(
                "SELECT max(seq) FROM change_log WHERE origin = $1", NODE_ID)
        finally:
            await conn.close()
        deadline = time.monotonic() + 10
        while index.seqs.get(NODE_ID, 0) < written:
            assert time.monotonic() < deadline, "the follower did not resume"
            await asyncio.sleep(0.1)
        assert (await worker.get("/readyz")).status_code == 200


def test_serve_gives_up_when_its_database_cannot_restart(own_tmp: Path) -> None:
    """The supervisor's last resort: the HTTP server is stopped and serve exits non-zero."""
    pg = EmbeddedPostgres(own_tmp / "pg")
    pg.start()
    pid = _postmaster(pg.data_dir)
    http_server = subprocess.Popen(["sleep", "60"])
    try:
        os.kill(pid, signal.SIGKILL)
        # what no restart can mend: the cluster's files are gone
        (pg.data_dir / "PG_VERSION").unlink()
        returned = supervise(http_server, pg, every=0.1, attempts=2)
    finally:
        http_server.kill()
        http_server.wait()
    assert returned == EXIT_DATABASE_LOST
    assert http_server.returncode == -signal.SIGTERM
