"""Each worker's trace index: at start-up stood on the node's shared snapshot (or built from
the log while the log is small), tailed from the change log, brought up to date after this
worker's own writes before their answers leave (API.md §6), and moved onto a newer
snapshot when one is written (api/trace_snapshot.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import asyncpg
import structlog
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api import trace_snapshot
from api.background import running
from api.guards import READ_ONLY
from api.settings import Settings
from api.state import NodeState, node_state
from registry.ledger.memory import LedgerMemory
from registry.trace.answer import Answers
from registry.trace.feed import IndexFeed, SharedHead
from registry.trace.index import TraceIndex

log = structlog.get_logger("api.trace")
EXTRA = "trace"
FREEZE_ABOVE = 100_000
REBUILD_BACKOFF_SECONDS = 600.0
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class TraceState:
    answers: Answers
    feed: IndexFeed
    ledger: LedgerMemory

    @property
    def index(self) -> TraceIndex:
        """The index answers come from now (the feed's: it changes when it is rebased)."""
        return self.feed.index

    async def rebase(self, fresh: TraceIndex, node_id: str) -> None:
        """Answer from `fresh` (on a newer snapshot) once it is as current as the log."""
        applied = await self.feed.replace(fresh)
        self.answers = Answers(fresh, node_id)
        log.info("trace_index_rebased", entries=applied, resources=len(fresh))


def trace_state(node: NodeState) -> TraceState:
    state: TraceState = node.extras[EXTRA]
    return state


@contextlib.asynccontextmanager
async def trace_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    node: NodeState = app.state.node
    assert node.settings.database_url is not None
    started = time.perf_counter()
    index = await trace_snapshot.open_index(node.pool, node.settings)
    head = SharedHead(node.settings.trace_head_file)
    ledger = LedgerMemory(int(time.time()))
    feed = IndexFeed(node.pool, index, node.node_id, head, ledger)
    await feed.prime_ledger()
    applied = await feed.catch_up()
    if len(index) > FREEZE_ABOVE:
        # A large index is long-lived objects by the million: keep the collector off them.
        gc.collect()
        gc.freeze()
    log.info("trace_index_built", entries=applied, resources=len(index),
             contact_counters=len(ledger), seconds=round(time.perf_counter() - started, 2),
             on_snapshot=len(index.base.slot_rid) > 0)
    state = node.extras[EXTRA] = TraceState(Answers(index, node.node_id), feed, ledger)
    try:
        async with running(feed.run(node.settings.database_url)), running(
                _keep_snapshot(state, node.pool, node.settings, node.node_id)):
            yield
    finally:
        head.close()


async def _keep_snapshot(state: TraceState, pool: asyncpg.Pool, settings: Settings,
                         node_id: str) -> None:
    """Rebuild the node's snapshot when this worker's delta has grown, and stand on a
    snapshot written since this worker's base (by any worker) once it is whole."""
    path = settings.trace_snapshot_file
    standing_on = trace_snapshot.identity(path) if len(state.index.base.slot_rid) else None
    retry_at = 0.0  # after a failed build (a full disk, a read-only directory): not before
    while True:
        await asyncio.sleep(settings.trace_snapshot_check_seconds)
        try:
            if time.monotonic() >= retry_at and await trace_snapshot.rebuild_if_due(
                    pool, settings, state.index) is False:
                retry_at = time.monotonic() + REBUILD_BACKOFF_SECONDS
            written = trace_snapshot.identity(path)
            if written is None or written == standing_on:
                continue
            found = trace_snapshot.read_valid(path)
            if found is not None:
                standing_on = written
                await state.rebase(TraceIndex(found.base), node_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            # The worker goes on answering from the index it has; the next round retries.
            log.warning("trace_snapshot_round_failed", exc_info=True)


class WritesSeenByTrace(ASGIMiddleware):
    """After a successful write, and before its answer is sent, this worker applies the
    write to its index and publishes the seq, so the writer's next trace reflects it."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        method = scope.get("method", "GET")
        path: str = scope["path"]
        handler = scope.get("route_handler")
        # A POST that only reads (a trace batch, a receipt, a check) writes nothing to apply.
        reads = handler is not None and handler.opt.get(READ_ONLY, False)
        if method in _READS or not path.startswith("/v1/") or reads:
            await next_app(scope, receive, send)
            return

        async def send_after_applying(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                extras = node_state(scope).extras
                if EXTRA in extras:
                    await trace_state(node_state(scope)).feed.after_write()
            await send(message)

        await next_app(scope, receive, send_after_applying)


