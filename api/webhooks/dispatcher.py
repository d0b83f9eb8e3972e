"""The webhook worker every node process runs: a few delivery slots that each claim one
due delivery at a time from the PostgreSQL outbox and post it (registry/events/deliveries).

Slots sleep until a look at the outbox (every `webhook_poll_seconds`) finds a delivery
due. A slot never takes a second delivery for a member whose receiver another slot of this
process is waiting on, so a receiver that hangs holds one slot for at most the time-out, never the
others. Any failure of the database is logged and retried: the worker never dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from datetime import timedelta

import asyncpg
import msgspec
import structlog
from litestar import Litestar

from api.background import running
from api.settings import Settings
from api.state import NodeState
from api.webhooks import sender
from api.webhooks.targets import TargetRefused, parse
from registry import db
from registry.console.sealing import load_or_create_key
from registry.events import signing
from registry.events.deliveries import Backoff, Due, Outcome, any_due, claim, record

log = structlog.get_logger("api.webhooks")
EXTRA = "webhooks"
_encode = msgspec.json.Encoder().encode


def backoff_of(settings: Settings) -> Backoff:
    return Backoff(timedelta(seconds=settings.webhook_backoff_seconds),
                   timedelta(seconds=settings.webhook_backoff_cap_seconds),
                   timedelta(hours=settings.webhook_retry_hours))


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, key: bytes) -> None:
        self.pool = pool
        self.settings = settings
        self.key = key
        self.backoff = backoff_of(settings)
        self._busy: set[str] = set()
        self._claiming = asyncio.Lock()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, watch: asyncpg.Pool) -> None:
        slots = [asyncio.create_task(self._slot())
                 for _ in range(self.settings.webhook_concurrency)]
        try:
            await self._pace(watch)
        finally:
            for slot in slots:
                slot.cancel()
            await asyncio.gather(*slots, return_exceptions=True)

    async def _pace(self, watch: asyncpg.Pool) -> None:
        """Wake the slots when a delivery is due. The look is one index probe on the node's
        own pool, so an idle process holds no connection for webhooks at all."""
        while True:
            try:
                async with watch.acquire() as conn:
                    if await any_due(conn):
                        self.wake()
            except Exception:  # the database may be away for a while: look again later
                log.warning("webhook_watch_failed", exc_info=True)
            await asyncio.sleep(self.settings.webhook_poll_seconds)

    async def _slot(self) -> None:
        while True:
            try:
                delivered = await self.deliver_one()
            except Exception:  # a slot that died would deliver nothing more: log, go on
                log.warning("webhook_delivery_failed", exc_info=True)
                delivered = False
            if not delivered:
                self._wake.clear()
                await self._wake.wait()

    async def deliver_one(self) -> bool:
        """Claim, post and record one due delivery; False when none was due."""
        async with self.pool.acquire() as conn, conn.transaction():
            async with self._claiming:
                due = await claim(conn, self.key, sorted(self._busy))
                if due is None:
                    return False
                self._busy.add(due.member_id)
            try:
                outcome = await self._post(due)
            finally:
                self._busy.discard(due.member_id)
            state = await record(conn, due, outcome, self.backoff)
        log.info("webhook_attempt", event_id=due.event.id, member=due.member_id,
                 status=outcome.status, state=state, ms=outcome.duration_ms)
        return True

    async def _post(self, due: Due) -> Outcome:
        if due.target is None:
            return Outcome(None, "webhook removed", 0)
        if not due.target.secrets:
            return Outcome(None, "the webhook secret cannot be read with this node's key", 0)
        allow = self.settings.webhook_allow_http_loopback
        try:
            target = parse(due.target.url, allow_loopback=allow)
        except TargetRefused as exc:
            return Outcome(None, f"refused target: {exc}", 0)
        body = _encode(due.event)
        headers = signing.headers(due.target.secrets, due.event.id, int(time.time()), body)
        return await sender.post(
            target, body, headers, deadline_seconds=self.settings.webhook_timeout_seconds,
            max_answer=self.settings.webhook_max_answer_bytes, allow_loopback=allow,
        )


@contextlib.asynccontextmanager
async def webhook_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    node: NodeState = app.state.node
    settings = node.settings
    key = load_or_create_key(settings.webhook_key_file)
    # Connections only while delivering: idle ones close after a few seconds.
    pool = await db.create_pool(str(settings.database_url), 0,
                                max(1, settings.webhook_concurrency),
                                max_inactive_connection_lifetime=5.0)
    dispatcher = Dispatcher(pool, settings, key)
    node.extras[EXTRA] = dispatcher
    try:
        async with running(dispatcher.run(node.pool)):
            yield
    finally:
        await pool.close()
