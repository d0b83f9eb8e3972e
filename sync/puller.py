"""The node's background pull from each peer: verify a page, apply it, repeat, forever.

One worker per node pulls (it holds a PostgreSQL advisory lock; the others wait to take
over should it stop). Each peer has its own loop: a full page is followed at once by the
next, a short one by a pause; failures back off exponentially; a verification fault
stops that peer until an operator clears it (`registry peer resume`). Whatever a peer
sends, a loop does not end: any exception is that peer's recorded error (status, metrics,
the console) and is tried again, and a loop that ended all the same is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import asyncpg
import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.records import RefusedChange
from sync import consumer
from sync.client import AnswerLimits, AnswerTooLarge, AnswerTooSlow, FeedClient
from sync.consumer import PeerState
from sync.errors import PullFailed, SyncFault
from sync.peers import Peer, list_peers
from sync.tlog_store import TileCache
from sync.verify import Verified, verify_page
from sync.wire import Feed
from sync.witness import witness

log = structlog.get_logger("sync.puller")
PULLER_LOCK = 0x5359_4E43  # "SYNC"


@dataclass(frozen=True)
class PullSettings:
    interval: float = 1.0  # pause after a short page
    limit: int = 2000  # changes asked for per page
    lock_retry: float = 5.0  # how often a waiting worker tries to become the puller
    max_backoff: float = 60.0  # the longest pause between failed pulls of a peer
    answers: AnswerLimits = field(default_factory=AnswerLimits)  # a page's cap, deadline


@dataclass
class NodeIdentity:
    node_id: str
    key: Ed25519PrivateKey
    kid: str
    # The peers' trees this node computes as their witness (sync/witness.py).
    tiles: TileCache = field(default_factory=TileCache)


def _client(me: NodeIdentity, peer: Peer, http: httpx.AsyncClient,
            answers: AnswerLimits | None = None) -> FeedClient:
    return FeedClient(peer.url, audience=peer.node_id, issuer=me.node_id, key=me.key,
                      kid=me.kid, http=http, limits=answers)


async def pull_once(
    pool: asyncpg.Pool, me: NodeIdentity, peer: Peer, http: httpx.AsyncClient, limit: int,
) -> int:
    """One page from `peer`: returns how many changes were applied (0 when faulted)."""
    async with pool.acquire() as conn:
        state = await consumer.peer_state(conn, peer.node_id)
    if state.fault:
        return 0
    feed = await _client(me, peer, http).changes(state.applied_seq, limit)
    return await consume(pool, peer, feed, state)


async def pull_until_caught_up(
    pool: asyncpg.Pool, me: NodeIdentity, peer: Peer, http: httpx.AsyncClient, limit: int,
    answers: AnswerLimits | None = None,
) -> int:
    """Pull pages until one comes back short; returns how many changes were applied.

    While a page is being applied the next one is already being fetched (its `after` is
    known once the page verifies), so the peer's work and ours overlap.
    """
    async with pool.acquire() as conn:
        state = await consumer.peer_state(conn, peer.node_id)
    if state.fault:
        return 0
    client = _client(me, peer, http, answers)
    fetching: asyncio.Task[Feed] | None = asyncio.create_task(
        client.changes(state.applied_seq, limit))
    total = 0
    try:
        while fetching is not None:
            feed = await fetching
            fetching = None
            proven = await _verified(pool, peer, feed, state)
            if proven and len(feed.changes) >= limit:
                fetching = asyncio.create_task(client.changes(proven[-1].seq, limit))
            total += await _applied(pool, peer, feed, proven)
            if proven:
                state = PeerState(proven[-1].seq, proven[-1].hash, None)
        await _witnessed(pool, me, peer, client)
    finally:
        if fetching is not None:
            fetching.cancel()
            with contextlib.suppress(BaseException):
                await fetching
    return total


async def consume(pool: asyncpg.Pool, peer: Peer, feed: Feed, state: PeerState) -> int:
    """Verify a page the peer sent after `state`, then apply it; a fault stops the peer."""
    return await _applied(pool, peer, feed, await _verified(pool, peer, feed, state))


async def _fault(pool: asyncpg.Pool, peer: Peer, reason: str) -> None:
    log.error("sync_fault", peer=peer.node_id, reason=reason)
    async with pool.acquire() as conn:
        await consumer.record_fault(conn, peer.node_id, reason)


async def _witnessed(pool: asyncpg.Pool, me: NodeIdentity, peer: Peer, client: FeedClient,
                     ) -> None:
    """Check the peer's tree checkpoint against what it sent and cosign it (sync/witness.py)."""
    try:
        await witness(pool, peer.node_id, peer.keys, client, me=me.node_id, key=me.key,
                      cache=me.tiles)
    except SyncFault as fault:
        await _fault(pool, peer, str(fault))
        raise


async def _verified(pool: asyncpg.Pool, peer: Peer, feed: Feed, state: PeerState
                    ) -> list[Verified]:
    held: dict[int, str] = {}
    again = [c.seq for c in feed.changes if c.seq <= state.applied_seq]
    if again:
        async with pool.acquire() as conn:
            held = await consumer.held_hashes(conn, peer.node_id, again)
    try:
        return verify_page(feed, node=peer.node_id, origin=peer.node_id, keys=peer.keys,
                           after_seq=state.applied_seq, after_hash=state.applied_hash,
                           held=held)
    except SyncFault as fault:
        await _fault(pool, peer, str(fault))
        raise


async def _applied(pool: asyncpg.Pool, peer: Peer, feed: Feed, proven: list[Verified]) -> int:
    try:
        async with pool.acquire() as conn:
            return await consumer.apply_verified(conn, peer.node_id, proven, feed.checkpoint,
                                                 feed.head)
    except RefusedChange as exc:
        # Verified, but it names what is not the peer's (API.md §8): nothing is applied.
        reason = f"refused: {exc}"
        await _fault(pool, peer, reason)
        raise SyncFault(reason) from exc
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
        # The change verified but cannot be held here (a uscc taken locally, say).
        reason = f"cannot apply: {type(exc).__name__}: {exc}"
        await _fault(pool, peer, reason)
        raise SyncFault(reason) from exc


async def follow_peer(
    pool: asyncpg.Pool, me: NodeIdentity, peer: Peer, http: httpx.AsyncClient,
    settings: PullSettings,
) -> None:
    """Pull from `peer` until cancelled; nothing a peer sends ends this loop."""
    backoff = settings.interval
    limit = settings.limit  # halved while pages come too large or too slow, then regrown
    while True:
        try:
            await pull_until_caught_up(pool, me, peer, http, limit, settings.answers)
        except SyncFault:
            # Recorded as the peer's fault; nothing is pulled until an operator resumes it.
            await asyncio.sleep(settings.interval)
            continue
        except Exception as exc:  # whatever failed is this peer's error
            if isinstance(exc, AnswerTooLarge | AnswerTooSlow):
                limit = max(1, limit // 2)
            await _record_error(pool, peer, exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, settings.max_backoff)
            continue
        backoff = settings.interval
        limit = min(settings.limit, limit * 2)
        await asyncio.sleep(settings.interval)


async def _record_error(pool: asyncpg.Pool, peer: Peer, exc: Exception, retry_in: float
                        ) -> None:
    """Log the failure and keep it as the peer's last error, when the database answers."""
    # A PullFailed says what happened; anything else is named by its type.
    error = str(exc) if isinstance(exc, PullFailed) else f"{type(exc).__name__}: {exc}"
    unexpected = not isinstance(exc, PullFailed | OSError | asyncpg.PostgresError)
    # An unexpected failure is a bug here or a case the checks miss: said as an error.
    (log.error if unexpected else log.warning)(
        "sync_pull_failed", peer=peer.node_id, error=error[:300], retry_in=retry_in,
        unexpected=unexpected)
    try:
        async with pool.acquire() as conn:
            await consumer.record_error(conn, peer.node_id, error[:1000])
    except Exception as failed:  # the database may be the failure itself
        log.warning("sync_error_not_recorded", peer=peer.node_id,
                    error=type(failed).__name__)


async def _follow_all(
    pool: asyncpg.Pool, me: NodeIdentity, settings: PullSettings, http: httpx.AsyncClient
) -> None:
    """Keep one loop per peer, starting loops for peers added while the node runs."""
    loops: dict[tuple[str, str, frozenset[str]], asyncio.Task[None]] = {}
    try:
        while True:
            async with pool.acquire() as conn:
                peers = await list_peers(conn)
            wanted = {(p.node_id, p.url, frozenset(k["kid"] for k in p.keys)): p for p in peers}
            for key in list(loops):
                if key not in wanted:
                    loops.pop(key).cancel()
                elif loops[key].done():
                    _ended(key[0], loops.pop(key))  # started again below
            for key, peer in wanted.items():
                if key not in loops:
                    loops[key] = asyncio.create_task(follow_peer(pool, me, peer, http, settings))
            await asyncio.sleep(settings.lock_retry)
    finally:
        for task in loops.values():
            task.cancel()
        await asyncio.gather(*loops.values(), return_exceptions=True)


def _ended(peer: str, loop: asyncio.Task[None]) -> None:
    """A peer's loop is not meant to end; should one, it is said loudly and restarted."""
    failure = None if loop.cancelled() else loop.exception()
    log.error("sync_loop_ended", peer=peer,
              error=None if failure is None else f"{type(failure).__name__}: {failure}")


async def run_puller(pool: asyncpg.Pool, me: NodeIdentity, settings: PullSettings) -> None:
    """Become the node's puller when no other worker is, and pull until cancelled."""
    while True:
        try:
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", PULLER_LOCK):
                    try:
                        async with httpx.AsyncClient() as http:
                            await _follow_all(pool, me, settings, http)
                    finally:
                        with contextlib.suppress(OSError, asyncpg.PostgresError):
                            await conn.execute("SELECT pg_advisory_unlock($1)", PULLER_LOCK)
        except Exception as exc:  # the puller outlives any failure
            log.warning("sync_puller_restarting", error=f"{type(exc).__name__}: {exc}"[:300])
        await asyncio.sleep(settings.lock_retry)
