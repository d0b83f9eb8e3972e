"""The webhook delivery outbox: claiming a due delivery, recording how an attempt went, and
when the next one is due.

A worker claims one delivery with FOR UPDATE SKIP LOCKED and keeps the row locked, in its
transaction, while it posts: no other worker (of this process or another) can take it, and
if the worker dies the database drops the lock with its connection, so the delivery is due
again at once, under the same event id. An attempt is recorded only when it ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec

from registry.db import Connection
from registry.events.model import Event, EventSubject
from registry.events.webhooks import SigningSecrets, signing_secrets

MAX_ERROR = 300


class Backoff(NamedTuple):
    """Exponential backoff: `first`, doubling, at most `cap` apart, until `window` after
    the event; the last attempt is made at the end of the window, so a receiver is tried
    for the whole of it (API.md §14: at least 24 h)."""

    first: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=4)
    window: timedelta = timedelta(hours=24)

    def next_attempt(self, created: datetime, attempts: int, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed ones, or None: give up."""
        deadline = created + self.window
        if now >= deadline:
            return None
        delay: timedelta = min(self.first * 2 ** min(attempts - 1, 40), self.cap)
        retry_at: datetime = min(now + delay, deadline)
        return retry_at


class Due(msgspec.Struct, frozen=True):
    """A claimed delivery: the event, where it goes and what signs it."""

    event_seq: int
    member_id: str
    attempts: int
    created_at: datetime
    event: Event
    target: SigningSecrets | None  # None: the member has no webhook any more


class Outcome(NamedTuple):
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


_CLAIM = """
SELECT d.event_seq, d.member_id, d.attempts, d.created_at,
       e.id, e.type, e.at, e.subject_type, e.subject_id, e.data,
       w.url, w.secret, w.previous_secret, w.previous_until, now() AS now
FROM webhook_deliveries d
JOIN events e ON e.seq = d.event_seq
LEFT JOIN webhooks w ON w.member_id = d.member_id
WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.member_id <> ALL ($1::text[])
ORDER BY d.next_attempt_at, d.event_seq
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
"""


async def any_due(conn: Connection) -> bool:
    due: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries"
        " WHERE state = 'pending' AND next_attempt_at <= now())")
    return due


async def claim(conn: Connection, key: bytes, busy: Sequence[str]) -> Due | None:
    """Lock one due delivery for this transaction (none of a member in `busy`, whose
    receiver this worker is already waiting on)."""
    if not conn.is_in_transaction():
        raise RuntimeError("a claimed delivery stays locked by its transaction")
    row = await conn.fetchrow(_CLAIM, list(busy))
    if row is None:
        return None
    event = Event(id=row["id"], type=row["type"], at=row["at"],
                  subject=EventSubject(row["subject_type"], row["subject_id"]), data=row["data"])
    target = None
    if row["url"] is not None:
        target = signing_secrets(key, row["url"], row["secret"], row["previous_secret"],
                                 row["previous_until"], row["now"])
    return Due(row["event_seq"], row["member_id"], row["attempts"], row["created_at"], event,
               target)


async def record(conn: Connection, due: Due, outcome: Outcome, backoff: Backoff) -> str:
    """Keep the attempt and move the delivery on; returns its new state."""
    # The clock now, not the transaction's start: the backoff counts from the failure.
    now: datetime = await conn.fetchval("SELECT clock_timestamp()")
    attempt = due.attempts + 1
    error = None if outcome.error is None else outcome.error[:MAX_ERROR]
    if outcome.ok:
        state, next_at = "delivered", now
    else:
        retry = backoff.next_attempt(due.created_at, attempt, now) if due.target else None
        state, next_at = ("pending", retry) if retry is not None else ("failed", now)
    await conn.execute(
        """UPDATE webhook_deliveries SET state = $2::text, attempts = $3, next_attempt_at = $4,
               last_attempt_at = $5::timestamptz, last_status = $6, last_error = $7,
               delivered_at = CASE WHEN $2::text = 'delivered' THEN $5::timestamptz END
           WHERE event_seq = $1""",
        due.event_seq, state, attempt, next_at, now, outcome.status, error,
    )
    await conn.execute(
        """INSERT INTO webhook_attempts (event_seq, attempt, member_id, at, status, error,
               duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        due.event_seq, attempt, due.member_id, now, outcome.status, error, outcome.duration_ms,
    )
    return state
