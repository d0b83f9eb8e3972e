"""Several registry nodes on loopback, each with its own database, key and HTTP port.

Each node is the real app served by uvicorn in the test's event loop, so that the nodes'
pullers reach one another over real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import msgspec
import uvicorn

from api.app import create_app
from api.cli_sync import add_peer
from api.settings import Settings
from registry.canonical import canonical
from registry.db import connect
from registry.principals import create_operator
from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases
from tests.support.signing import Signer


@dataclass
class RunningNode:
    node_id: str
    settings: Settings
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    http: httpx.AsyncClient
    db: asyncpg.Connection
    operator: SignedClient

    @property
    def dsn(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url

    def client_for(self, signer: Signer) -> SignedClient:
        return SignedClient(self.http, signer)  # type: ignore[arg-type]

    async def stop(self) -> None:
        if self.task.done():
            return
        self.server.should_exit = True
        await self.task
        await self.http.aclose()
        await self.db.close()


async def serve_asgi(
    app: Any, lifespan: Literal["auto", "on", "off"] = "on"
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Serve an ASGI app on a free loopback port in this event loop; returns its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan=lifespan,
                            log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event to wait on
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


async def serve(settings: Settings, node_id: str) -> RunningNode:
    server, task, url = await serve_asgi(create_app(settings))
    http = httpx.AsyncClient(base_url=url, timeout=30)
    db = await connect(settings.database_url or "")
    made = await create_operator(db, f"operator of {node_id}")
    operator = SignedClient(http, Signer(made.id, made.kid, made.private_key, node_id))  # type: ignore[arg-type]
    return RunningNode(node_id, settings, url, server, task, http, db, operator)


async def start_node(
    databases: TemplateDatabases, tmp: Path, node_id: str, **settings: Any
) -> RunningNode:
    chosen = {"sync_interval": 0.1, "sync_page_limit": 500, **settings}
    made = Settings(database_url=await databases.clone(), node_id=node_id,
                    data_dir=tmp / node_id, **chosen)
    return await serve(made, node_id)


async def restart(node: RunningNode, **changes: Any) -> RunningNode:
    await node.stop()
    settings = msgspec.structs.replace(node.settings, **changes)
    return await serve(settings, node.node_id)


async def pair(a: RunningNode, b: RunningNode, **send: list[str]) -> None:
    """Each node pins the other's keys, as `registry peer add` does on either side."""
    await add_peer(a.dsn, b.node_id, b.url, send.get(b.node_id) or _default())
    await add_peer(b.dsn, a.node_id, a.url, send.get(a.node_id) or _default())


def _default() -> list[str]:
    from sync.peers import DEFAULT_SEND_TYPES

    return sorted(DEFAULT_SEND_TYPES)


async def eventually(check: Any, within: float = 15, every: float = 0.1) -> Any:
    """Retry an async check until it returns something truthy (or fail with its last value)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {within} s: {value!r}")
        await asyncio.sleep(every)


async def records_digest(conn: asyncpg.Connection, origin: str) -> str:
    """A digest of the member records of `origin` as a node holds them (not local columns)."""
    rows = await conn.fetch(
        "SELECT m.id, m.origin, m.kind, m.subtype, m.name, m.uscc, m.contact, m.complaints,"
        " m.status, m.created_at::text AS created_at,"
        " (SELECT coalesce(jsonb_agg(jsonb_build_array(h.status, h.reason, h.by)"
        "   ORDER BY h.n), '[]') FROM member_status_history h WHERE h.member_id = m.id) AS hist"
        " FROM members m WHERE m.origin = $1 ORDER BY m.id", origin)
    return hashlib.sha256(canonical([dict(r) for r in rows])).hexdigest()


async def chain_digest(conn: asyncpg.Connection, origin: str) -> tuple[int, str]:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(max(hash) FILTER (WHERE seq = (SELECT max(seq)"
        " FROM change_log WHERE origin = $1)), '') AS head FROM change_log WHERE origin = $1",
        origin)
    assert row is not None
    return row["n"], row["head"]


async def synced(*nodes_: RunningNode) -> None:
    """Every node holds every other node's chain up to its head."""
    async def check() -> bool:
        for home in nodes_:
            head = await chain_digest(home.db, home.node_id)
            for other in nodes_:
                if other is not home and await chain_digest(other.db, home.node_id) != head:
                    return False
        return True

    await eventually(check, within=20)


@contextlib.asynccontextmanager
async def nodes(
    databases: TemplateDatabases, tmp: Path, *node_ids: str, **settings: Any
) -> AsyncIterator[list[RunningNode]]:
    started: list[RunningNode] = []
    try:
        for node_id in node_ids:
            started.append(await start_node(databases, tmp, node_id, **settings))
        yield started
    finally:
        for node in started:
            with contextlib.suppress(Exception):
                await node.stop()
