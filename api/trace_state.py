"""Each worker's trace index: built at start-up, tailed from the change log, and brought up
to date after this worker's own writes before their answers leave (API.md §6)."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import structlog
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.background import running
from api.guards import READ_ONLY
from api.state import NodeState, node_state
from registry.ledger.memory import LedgerMemory
from registry.trace.answer import Answers
from registry.trace.feed import IndexFeed, SharedHead
from registry.trace.index import TraceIndex

log = structlog.get_logger("api.trace")
EXTRA = "trace"
FREEZE_ABOVE = 100_000
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class TraceState:
    index: TraceIndex
    answers: Answers
    feed: IndexFeed
    ledger: LedgerMemory


def trace_state(node: NodeState) -> TraceState:
    state: TraceState = node.extras[EXTRA]
    return state


@contextlib.asynccontextmanager
async def trace_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    node: NodeState = app.state.node
    assert node.settings.database_url is not None
    index = TraceIndex()
    head = SharedHead(node.settings.trace_head_file)
    ledger = LedgerMemory(int(time.time()))
    feed = IndexFeed(node.pool, index, node.node_id, head, ledger)
    applied = await feed.catch_up()
    if len(index) > FREEZE_ABOVE:
        # A large index is long-lived objects by the million: keep the collector off them.
        gc.collect()
        gc.freeze()
    log.info("trace_index_built", entries=applied, resources=len(index),
             contact_counters=len(ledger))
    node.extras[EXTRA] = TraceState(index, Answers(index, node.node_id), feed, ledger)
    try:
        async with running(feed.run(node.settings.database_url)):
            yield
    finally:
        head.close()


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


