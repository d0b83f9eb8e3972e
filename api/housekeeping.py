"""The node's periodic chores, which every worker runs in the background: spent nonces, rate
counters and lock-outs purged each minute; hourly, the contact ledger's retention, the
supervision reminders (`evaluation.due`, `rectification.overdue`) and the event outbox's
retention. A chore that one worker of the node should run holds an advisory lock of its own,
so every worker can run the same list.

A chore that fails is logged and tried again at the next tick; the others run regardless,
and the loop ends only when cancelled with its lifespan.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import msgspec
import structlog

from api.settings import Settings
from registry import ratelimit
from registry.console import lockout
from registry.db import Connection
from registry.entrustments import reminders
from registry.events import retention
from registry.ledger import store as ledger
from registry.principals import purge_expired_nonces

log = structlog.get_logger("api.housekeeping")
TICK_SECONDS = 60.0
HOURLY = 3600.0


@dataclass(frozen=True)
class Chore:
    name: str
    # Seconds between runs (at most once per tick); 0: every tick.
    every: float
    # What it did, logged under its name; None: nothing worth a line.
    run: Callable[[Connection], Awaitable[msgspec.Struct | None]]


async def _purge(conn: Connection) -> None:
    await purge_expired_nonces(conn)
    await ratelimit.purge(conn)
    await lockout.purge(conn)


def chores_of(settings: Settings) -> list[Chore]:
    return [
        Chore("purge", 0, _purge),
        Chore("contact_retention", HOURLY,
              lambda conn: ledger.expire(conn, settings.contact_retention_days)),
        Chore("supervision_reminders", HOURLY,
              lambda conn: reminders.remind(conn, notice_days=settings.evaluation_notice_days)),
        Chore("event_retention", HOURLY, lambda conn: retention.prune(
            conn, event_days=settings.event_retention_days,
            attempt_days=settings.webhook_attempt_retention_days)),
    ]


@dataclass
class Housekeeping:
    pool: asyncpg.Pool
    chores: Sequence[Chore]
    tick: float = TICK_SECONDS
    _last_done: dict[str, float] = field(default_factory=dict)

    async def run_due(self) -> list[str]:
        """Run every chore whose time has come; returns the names of those that failed."""
        failed = []
        for chore in self.chores:
            last = self._last_done.get(chore.name)
            if last is not None and time.monotonic() - last < chore.every:
                continue
            try:
                async with self.pool.acquire() as conn:
                    done = await chore.run(conn)
            except Exception:  # the database may be away, or one chore broken: go on
                log.warning("housekeeping_failed", chore=chore.name, exc_info=True)
                failed.append(chore.name)
                continue
            self._last_done[chore.name] = time.monotonic()
            if done is not None:
                log.info(chore.name, **msgspec.structs.asdict(done))
        return failed

    async def forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            await self.run_due()
