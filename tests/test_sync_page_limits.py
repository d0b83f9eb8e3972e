"""A peer's answers are read within a byte cap and a deadline; a page too large is asked
for again smaller until it fits; a pull loop survives any exception and a loop that
ended is started again. The node puller and the carrier mirror alike.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import asyncpg
import httpx
import pytest
from structlog.testing import capture_logs

from registry.db import create_pool
from registry.signing_keys import load_private_key, public_jwk_of
from sync import consumer, puller
from sync.client import (
    AnswerLimits,
    AnswerTooLarge,
    AnswerTooSlow,
    FeedClient,
    fetch_node_info,
    read_capped,
)
from sync.errors import PullFailed
from sync.mirror import CarrierMirror
from sync.peers import Peer, get_peer
from sync.puller import NodeIdentity, PullSettings
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.hostile import HostilePeer, Writer, json_answer
from tests.support.nodes import RunningNode, chain_digest, eventually, nodes, pair

QUICK = AnswerLimits(deadline=1.0)


@pytest.fixture(scope="module")
async def fin_and_tel(
    databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningNode, RunningNode, Any]]:
    # Neither node pulls by itself: each test runs the loop it is about.
    async with nodes(databases, tmp_path_factory.mktemp("limits"), "node-fin", "node-tel",
                     sync_enabled=False, pool_min=1, pool_max=4) as (fin, tel):
        await pair(fin, tel)
        carrier = await admit_member(fin.operator, "carrier")
        for _ in range(3):
            await admit_member(fin.operator, "collection_agency")
        yield fin, tel, carrier


@pytest.fixture
async def tel_pool(
    fin_and_tel: tuple[RunningNode, RunningNode, Any],
) -> AsyncIterator[asyncpg.Pool]:
    tel = fin_and_tel[1]
    pool = await create_pool(tel.dsn, 1, 3)
    yield pool
    # Each test starts from an empty replica of node-fin.
    await tel.db.execute("DELETE FROM member_status_history WHERE member_id IN"
                         " (SELECT id FROM members WHERE origin = 'node-fin')")
    await tel.db.execute("DELETE FROM members WHERE origin = 'node-fin'")
    await tel.db.execute("DELETE FROM change_log WHERE origin = 'node-fin'")
    await tel.db.execute(
        "UPDATE sync_state SET applied_seq = 0, applied_hash = $1, last_error = NULL,"
        " fault = NULL WHERE peer = 'node-fin'", "0" * 64)
    await pool.close()


def _identity(tel: RunningNode) -> NodeIdentity:
    key = load_private_key(tel.settings.data_dir / "node_key.pem")
    return NodeIdentity(tel.node_id, key, public_jwk_of(key)["kid"])


async def _two_change_pages(fin: RunningNode, tel: RunningNode) -> tuple[int, int]:
    """(bytes of the largest page of two changes, bytes of the whole feed) of node-fin."""
    me = _identity(tel)
    client = FeedClient(fin.url, audience=fin.node_id, issuer=me.node_id, key=me.key,
                        kid=me.kid, http=fin.http)
    head = (await chain_digest(fin.db, "node-fin"))[0]
    sizes = []
    for after in range(head):
        raw = await client._get("/v1/sync/changes", {"after": after, "limit": 2}, 1 << 30)
        sizes.append(len(raw))
    whole = await client._get("/v1/sync/changes", {"after": 0, "limit": 64}, 1 << 30)
    return max(sizes), len(whole)


@contextlib.asynccontextmanager
async def _running(loop: Awaitable[None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(loop)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_page_too_large_is_asked_for_again_smaller_until_it_fits(
    fin_and_tel: tuple[RunningNode, RunningNode, Any], tel_pool: asyncpg.Pool,
) -> None:
    fin, tel, _ = fin_and_tel
    two, whole = await _two_change_pages(fin, tel)
    assert whole > 2 * two  # so that the whole feed in one page is refused
    settings = PullSettings(interval=0.05, limit=64, max_backoff=0.2,
                            answers=AnswerLimits(deadline=5, bytes_per_change=0,
                                                 floor_bytes=two))
    async with tel_pool.acquire() as conn:
        peer = await get_peer(conn, "node-fin")
    head = await chain_digest(fin.db, "node-fin")
    with capture_logs() as logs:
        async with httpx.AsyncClient() as http, _running(
                puller.follow_peer(tel_pool, _identity(tel), peer, http, settings)):

            async def converged() -> bool:
                return await chain_digest(tel.db, "node-fin") == head

            await eventually(converged)
    # No page of the size first asked for fits (whole > 2 * two): it was refused, then the
    # limit was halved until pages fit.
    assert any("larger than" in e["error"] for e in logs if e["event"] == "sync_pull_failed")
    assert await tel.db.fetchval(
        "SELECT last_error FROM sync_state WHERE peer = 'node-fin'") is None


async def test_the_mirror_too_asks_for_smaller_pages_until_they_fit(
    fin_and_tel: tuple[RunningNode, RunningNode, Any],
) -> None:
    fin, tel, carrier = fin_and_tel
    two, _ = await _two_change_pages(fin, tel)
    mirror = CarrierMirror(fin.url, member_id=carrier.id, key=carrier.signer.key,
                           kid=carrier.signer.kid, page_limit=64,
                           limits=AnswerLimits(deadline=5, bytes_per_change=0,
                                               floor_bytes=two))
    head = (await chain_digest(fin.db, "node-fin"))[0]
    with capture_logs() as logs:
        async with _running(mirror.run(interval=0.05)) as task:

            async def caught_up() -> bool:
                assert not task.done()
                return mirror.status.cursors.get("node-fin") == head

            await eventually(caught_up)
    assert any("larger than" in e["error"] for e in logs if e["event"] == "mirror_pull_failed")


async def _drip(writer: Writer) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{")
    while True:
        await asyncio.sleep(0.1)
        writer.write(b" ")
        await writer.drain()


@contextlib.asynccontextmanager
async def _hostile(answer: Any) -> AsyncIterator[tuple[HostilePeer, str]]:
    peer = HostilePeer("peer-x", answer)
    url = await peer.start()
    try:
        yield peer, url
    finally:
        await peer.stop()


@pytest.mark.parametrize(
    ("answer", "says"),
    [(_drip, "no whole answer within 1 s"),
     (json_answer(b'{"node_id": "\xff"}'), "cannot read"),
     (json_answer(b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"), "nested too deep")],
    ids=["drip", "not utf-8", "deep"],
)
async def test_a_mirror_on_a_failing_node_keeps_its_error_and_tries_again(
    fin_and_tel: tuple[RunningNode, RunningNode, Any], answer: Any, says: str,
) -> None:
    _, _, carrier = fin_and_tel
    async with _hostile(answer) as (peer, url):
        mirror = CarrierMirror(url, member_id=carrier.id, key=carrier.signer.key,
                               kid=carrier.signer.kid, limits=QUICK)
        async with _running(mirror.run(interval=0.05)) as task:

            async def failed_twice() -> bool:
                assert not task.done()
                return peer.requests >= 2 and mirror.status.last_error is not None

            await eventually(failed_twice)
    assert mirror.status.last_error is not None
    assert says in mirror.status.last_error


@pytest.mark.parametrize(
    ("answer", "refusal", "says"),
    [
        (json_answer(b'{"title": "busy"}' + b" " * 1000, "503 Service Unavailable"),
         PullFailed, 'HTTP 503 {"title": "busy"}'),
        (json_answer(b"\x1f\x8b" + b"\x00" * 20, content_encoding="gzip"), PullFailed,
         "content-encoding 'gzip'"),
        (json_answer(b"{}" * 600_000), AnswerTooLarge, "answer of 1200000 bytes is larger"),
        (_drip, AnswerTooSlow, "no whole answer within 1 s"),
    ],
    ids=["error status", "compressed", "declared too large", "drip"],
)
async def test_an_answer_is_refused_before_it_is_read_whole(
    answer: Any, refusal: type[Exception], says: str,
) -> None:
    async with _hostile(answer) as (_, url), httpx.AsyncClient() as http:
        with pytest.raises(refusal, match=says):
            await read_capped(http, url + "/x", headers={}, max_bytes=1_000_000, limits=QUICK)


async def test_an_undeclared_length_is_cut_off_at_the_cap() -> None:
    async def endless(writer: Writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()

    async with _hostile(endless) as (peer, url), httpx.AsyncClient() as http:
        with pytest.raises(AnswerTooLarge, match="larger than the 1000000 bytes"):
            await read_capped(http, url, headers={}, max_bytes=1_000_000, limits=QUICK)
    assert peer.sent < 16 * 1024 * 1024


async def test_node_info_that_is_not_node_info_is_refused() -> None:
    async with _hostile(json_answer(b'{"node_id": 5}')) as (_, url):
        with pytest.raises(PullFailed, match=r"cannot read .*/\.well-known/registry-node"):
            await fetch_node_info(url)


@pytest.fixture
def failing_apply(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Applying fails with RecursionError twice (what escaped the old puller), then works."""
    calls: list[int] = []
    real = consumer.apply_verified

    async def apply(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise RecursionError("maximum recursion depth exceeded")
        return await real(*args, **kwargs)

    monkeypatch.setattr(consumer, "apply_verified", apply)
    return calls


async def test_any_exception_is_the_peer_recorded_error_and_is_tried_again(
    fin_and_tel: tuple[RunningNode, RunningNode, Any], tel_pool: asyncpg.Pool,
    failing_apply: list[int],
) -> None:
    fin, tel, _ = fin_and_tel
    async with tel_pool.acquire() as conn:
        peer = await get_peer(conn, "node-fin")
    settings = PullSettings(interval=0.05, limit=64, max_backoff=0.2)
    head = await chain_digest(fin.db, "node-fin")
    with capture_logs() as logs:
        async with httpx.AsyncClient() as http, _running(
                puller.follow_peer(tel_pool, _identity(tel), peer, http, settings)):

            async def recorded() -> Any:
                return await tel.db.fetchval(
                    "SELECT last_error FROM sync_state WHERE peer = 'node-fin'")

            assert await eventually(recorded) == (
                "RecursionError: maximum recursion depth exceeded")

            async def converged_and_cleared() -> bool:
                error = await tel.db.fetchval(
                    "SELECT last_error FROM sync_state WHERE peer = 'node-fin'")
                return error is None and await chain_digest(tel.db, "node-fin") == head

            await eventually(converged_and_cleared)
    failures = [e for e in logs if e["event"] == "sync_pull_failed"]
    assert len(failures) == 2
    assert all(e["unexpected"] and e["log_level"] == "error" for e in failures)


async def test_a_peer_loop_that_ends_is_logged_and_started_again(
    fin_and_tel: tuple[RunningNode, RunningNode, Any], tel_pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, tel, _ = fin_and_tel
    started: list[str] = []

    async def ends(pool: Any, me: Any, peer: Peer, *rest: Any) -> None:
        started.append(peer.node_id)
        if len(started) == 1:
            raise KeyError("a loop that ended")

    monkeypatch.setattr(puller, "follow_peer", ends)
    settings = PullSettings(interval=0.05, lock_retry=0.05)
    with capture_logs() as logs:
        async with httpx.AsyncClient() as http, _running(
                puller._follow_all(tel_pool, _identity(tel), settings, http)):

            async def restarted() -> bool:
                return len(started) >= 3  # failed, ended quietly, both started again

            await eventually(restarted)
    ended = [e for e in logs if e["event"] == "sync_loop_ended"]
    assert ended[0] == {"event": "sync_loop_ended", "log_level": "error", "peer": "node-fin",
                        "error": "KeyError: 'a loop that ended'"}
    assert ended[1]["error"] is None


async def test_the_puller_outlives_a_database_that_fails(
    fin_and_tel: tuple[RunningNode, RunningNode, Any],
) -> None:
    tel = fin_and_tel[1]
    async with tel_pool_of(tel) as pool:
        pass  # closed: every acquire now fails
    with capture_logs() as logs:
        async with _running(puller.run_puller(pool, _identity(tel),
                                              PullSettings(lock_retry=0.05))) as task:

            async def retried() -> bool:
                assert not task.done()
                return len([e for e in logs if e["event"] == "sync_puller_restarting"]) >= 2

            await eventually(retried)
    assert "InterfaceError" in next(e["error"] for e in logs
                                    if e["event"] == "sync_puller_restarting")


async def test_an_error_that_cannot_be_recorded_is_still_logged(
    fin_and_tel: tuple[RunningNode, RunningNode, Any],
) -> None:
    tel = fin_and_tel[1]
    async with tel_pool_of(tel) as pool:
        peer = await get_peer(tel.db, "node-fin")
    with capture_logs() as logs:  # the pool is closed: the database is the failure
        await puller._record_error(pool, peer, PullFailed("unreachable"), 0.1)
    assert [e["event"] for e in logs] == ["sync_pull_failed", "sync_error_not_recorded"]
    assert logs[1]["error"] == "InterfaceError"


@contextlib.asynccontextmanager
async def tel_pool_of(node: RunningNode) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(node.dsn, 1, 2)
    try:
        yield pool
    finally:
        await pool.close()
