"""A feed that does not verify applies nothing: altered, reordered, duplicated, forged, unsigned."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from registry.db import create_pool
from registry.signing_keys import load_private_key, public_jwk_of
from sync import consumer
from sync.checkpoint import sign
from sync.client import FeedClient
from sync.errors import SyncFault
from sync.peers import get_peer
from sync.puller import consume
from sync.wire import Feed, WireChange
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import RunningNode, eventually, nodes, pair, serve_asgi


@pytest.fixture(scope="module")
async def fin_and_tel(
    databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningNode, RunningNode]]:
    # The telecom node does not pull by itself: each test hands it a page.
    async with nodes(databases, tmp_path_factory.mktemp("faults"), "node-fin", "node-tel",
                     sync_enabled=False) as (fin, tel):
        await pair(fin, tel)
        for kind in ("lender", "collection_agency", "collection_agency"):
            await admit_member(fin.operator, kind)
        yield fin, tel


@pytest.fixture(scope="module")
async def tel_pool(fin_and_tel: tuple[RunningNode, RunningNode]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fin_and_tel[1].dsn, 1, 2)
    yield pool
    await pool.close()


async def _page(fin: RunningNode, tel: RunningNode, after: int = 0) -> Feed:
    """A real page of the finance node's feed, fetched as the telecom node's puller does."""
    key = load_private_key(tel.settings.data_dir / "node_key.pem")
    client = FeedClient(fin.url, audience=fin.node_id, issuer=tel.node_id, key=key,
                        kid=public_jwk_of(key)["kid"], http=fin.http)
    return await client.changes(after, 100)


async def _consume(tel: RunningNode, pool: asyncpg.Pool, feed: Feed) -> int:
    async with pool.acquire() as conn:
        peer = await get_peer(conn, "node-fin")
        state = await consumer.peer_state(conn, "node-fin")
    return await consume(pool, peer, feed, state)


def _with_changes(feed: Feed, changes: list[WireChange]) -> Feed:
    return msgspec.structs.replace(feed, changes=changes)


def _altered_data(feed: Feed) -> Feed:
    changes = list(feed.changes)
    data = msgspec.json.decode(changes[2].data)
    data["name"] = "冒名机构"
    changes[2] = msgspec.structs.replace(changes[2], data=msgspec.Raw(msgspec.json.encode(data)))
    return _with_changes(feed, changes)


def _altered_hashes(feed: Feed) -> Feed:
    """Data and data_hash changed together: the entry's own hash no longer matches."""
    from registry.canonical import canonical, sha256_hex

    changes = list(feed.changes)
    data = msgspec.json.decode(changes[2].data)
    data["status"] = "active" if data["status"] != "active" else "pending"
    raw = canonical(data)
    changes[2] = msgspec.structs.replace(changes[2], data=msgspec.Raw(raw),
                                         data_hash=sha256_hex(raw))
    return _with_changes(feed, changes)


def _reordered(feed: Feed) -> Feed:
    changes = list(feed.changes)
    changes[1], changes[2] = changes[2], changes[1]
    return _with_changes(feed, changes)


def _forged_origin(feed: Feed) -> Feed:
    """A change that names another node, even with its hash recomputed to fit."""
    from registry.changelog import entry_hash

    changes = list(feed.changes)
    c = changes[0]
    forged = entry_hash(prev=c.prev, seq=c.seq, origin="node-tel", type=c.type, id=c.id,
                        op=c.op, data_hash=c.data_hash)
    changes[0] = msgspec.structs.replace(c, origin="node-tel", hash=forged)
    return _with_changes(feed, changes)


def _bad_signature(feed: Feed) -> Feed:
    sig = feed.checkpoint.sig
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return msgspec.structs.replace(
        feed, checkpoint=msgspec.structs.replace(feed.checkpoint, sig=flipped))


def _signed_by_another_key(feed: Feed) -> Feed:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    cp = feed.checkpoint
    other = sign(Ed25519PrivateKey.generate(), cp.kid, node=cp.node, origin=cp.origin,
                 seq=cp.seq, hash=cp.hash, at=cp.at)
    return msgspec.structs.replace(feed, checkpoint=other)


def _checkpoint_off_the_chain(feed: Feed) -> Feed:
    """Drop the last change: the signed checkpoint no longer matches where the page ends."""
    return _with_changes(feed, list(feed.changes[:-1]))


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_altered_data, "data does not hash"),
        (_altered_hashes, "hash does not match"),
        (_reordered, "expected seq 2"),
        (_forged_origin, "names origin 'node-tel'"),
        (_bad_signature, "does not verify"),
        (_signed_by_another_key, "does not verify"),
        (_checkpoint_off_the_chain, "does not cover"),
    ],
)
async def test_a_tampered_page_applies_nothing_and_faults_the_peer(
    fin_and_tel: tuple[RunningNode, RunningNode], tel_pool: asyncpg.Pool,
    tamper: Callable[[Feed], Feed], reason: str,
) -> None:
    fin, tel = fin_and_tel
    feed = await _page(fin, tel)
    assert len(feed.changes) >= 6
    with pytest.raises(SyncFault, match=reason):
        await _consume(tel, tel_pool, tamper(feed))
    state = await tel.db.fetchrow("SELECT * FROM sync_state WHERE peer = 'node-fin'")
    assert state is not None
    assert state["applied_seq"] == 0
    assert reason in state["fault"]
    assert await tel.db.fetchval("SELECT count(*) FROM change_log WHERE origin = 'node-fin'") == 0
    assert await tel.db.fetchval("SELECT count(*) FROM members WHERE origin = 'node-fin'") == 0
    # While faulted, nothing more is taken from the peer, not even a good page.
    async with tel_pool.acquire() as conn:
        peer = await get_peer(conn, "node-fin")
    from sync.puller import NodeIdentity, pull_once

    key = load_private_key(tel.settings.data_dir / "node_key.pem")
    me = NodeIdentity(tel.node_id, key, public_jwk_of(key)["kid"])
    assert await pull_once(tel_pool, me, peer, tel.http, 100) == 0
    answer = await tel.operator.post("/v1/sync/peers/node-fin/resume")
    assert answer.status_code == 200, answer.text
    assert await tel.db.fetchval("SELECT fault FROM sync_state WHERE peer = 'node-fin'") is None


async def test_a_page_sent_twice_is_applied_once(
    fin_and_tel: tuple[RunningNode, RunningNode], tel_pool: asyncpg.Pool
) -> None:
    fin, tel = fin_and_tel
    feed = await _page(fin, tel)
    n = len(feed.changes)
    # The same changes twice in one page, then the whole page again.
    assert await _consume(tel, tel_pool, _with_changes(feed, [*feed.changes, *feed.changes])) == n
    assert await _consume(tel, tel_pool, feed) == 0
    assert await tel.db.fetchval(
        "SELECT count(*) FROM change_log WHERE origin = 'node-fin'") == n
    held = await tel.db.fetch("SELECT id, status FROM members WHERE origin = 'node-fin'")
    assert len(held) == 3
    assert {r["status"] for r in held} == {"active"}
    # A change sent again that differs from the one held is a fault, not a second version.
    changes = list(feed.changes)
    changes[0] = msgspec.structs.replace(changes[0], hash="0" * 64)
    with pytest.raises(SyncFault, match="differs from the change already held"):
        await _consume(tel, tel_pool, _with_changes(feed, changes))
    assert await tel.db.fetchval(
        "SELECT applied_seq FROM sync_state WHERE peer = 'node-fin'") == n
    await tel.operator.post("/v1/sync/peers/node-fin/resume")
    # The log going back below what was applied (a rewrite) is a fault too.
    empty = _with_changes(feed, [])
    empty = msgspec.structs.replace(empty, checkpoint=feed.checkpoint)
    rolled_back = _signed_like(fin, empty, seq=1, hash=feed.changes[0].hash)
    with pytest.raises(SyncFault, match="behind the chain"):
        await _consume(tel, tel_pool, rolled_back)
    await tel.operator.post("/v1/sync/peers/node-fin/resume")


def _signed_like(node: RunningNode, feed: Feed, *, seq: int, hash: str) -> Feed:
    key = load_private_key(node.settings.data_dir / "node_key.pem")
    cp = sign(key, public_jwk_of(key)["kid"], node=node.node_id, origin=node.node_id, seq=seq,
              hash=hash)
    return msgspec.structs.replace(feed, checkpoint=cp)


class TamperingProxy:
    """Forwards to a node, altering the data of the second change of every feed page."""

    def __init__(self, target: str) -> None:
        self.target = target

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        target = scope["path"] + (f"?{scope['query_string'].decode()}"
                                  if scope["query_string"] else "")
        headers = {k.decode(): v.decode() for k, v in scope["headers"]
                   if k in (b"authorization",)}
        async with httpx.AsyncClient(base_url=self.target) as http:
            answer = await http.get(target, headers=headers)
        body = answer.content
        if scope["path"] == "/v1/sync/changes" and answer.status_code == 200:
            page = msgspec.json.decode(body)
            if len(page["changes"]) > 1 and page["changes"][1]["data"]:
                page["changes"][1]["data"]["name"] = "篡改"
            body = msgspec.json.encode(page)
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


async def test_a_running_node_stops_on_a_tampered_feed_and_shows_why(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        await admit_member(fin.operator, "collection_agency")
        server, task, proxy = await serve_asgi(TamperingProxy(fin.url), lifespan="off")
        try:
            from api.cli_sync import add_peer

            await add_peer(tel.dsn, fin.node_id, proxy, ["member"])
            await add_peer(fin.dsn, tel.node_id, tel.url, ["member"])

            async def faulted() -> dict[str, Any] | None:
                peers = (await tel.operator.get("/v1/sync/status")).json()["peers"]
                return peers[0] if peers[0]["fault"] else None

            peer = await eventually(faulted)
            assert "seq 2: data does not hash to data_hash" in peer["fault"]
            assert peer["last_applied_seq"] == 0
            metrics = (await tel.http.get("/metrics")).text
            assert 'registry_sync_fault{node="node-tel",peer="node-fin"} 1' in metrics
            assert await tel.db.fetchval(
                "SELECT count(*) FROM members WHERE origin = 'node-fin'") == 0
        finally:
            server.should_exit = True
            await task
