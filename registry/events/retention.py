"""The event outbox does not grow for ever (docs/events.md, "Retention"): events older than
their retention go with their delivery and its attempts, and the attempt records of a
delivered webhook go sooner. A delivery still pending (within its retry window, or not yet
given up) is never touched, nor its event.

Each batch is its own short transaction; one worker of the node prunes at a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from registry.db import Connection, held_alone

LOCK = 0x4556_5254  # "EVRT"
BATCH = 5000

# The deliveries and attempts of old events go in the statement that deletes the events:
# their foreign keys are checked at its end, when all three are gone.
_EVENTS = """
WITH old AS (
    SELECT e.seq FROM events e
    WHERE e.at < $1
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                      WHERE d.event_seq = e.seq AND d.state = 'pending')
    ORDER BY e.at LIMIT $2
), attempts AS (
    DELETE FROM webhook_attempts a USING old WHERE a.event_seq = old.seq RETURNING 1
), deliveries AS (
    DELETE FROM webhook_deliveries d USING old WHERE d.event_seq = old.seq RETURNING 1
), gone AS (
    DELETE FROM events e USING old WHERE e.seq = old.seq RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS events, (SELECT count(*) FROM deliveries) AS deliveries,
       (SELECT count(*) FROM attempts) AS attempts
"""
# Attempts of a failed delivery stay with its event: they are what went wrong.
_DELIVERED_ATTEMPTS = """
WITH old AS (
    SELECT a.event_seq, a.attempt FROM webhook_attempts a
    JOIN webhook_deliveries d ON d.event_seq = a.event_seq
    WHERE a.at < $1 AND d.state = 'delivered'
    LIMIT $2
)
DELETE FROM webhook_attempts a USING old
WHERE a.event_seq = old.event_seq AND a.attempt = old.attempt
"""


class Pruned(msgspec.Struct, frozen=True, kw_only=True):
    events: int = 0
    deliveries: int = 0
    attempts: int = 0
    # Another worker of the node was pruning: this one did nothing.
    skipped: bool = False


async def prune(
    conn: Connection, *, event_days: int, attempt_days: int, now: datetime | None = None,
    batch: int = BATCH,
) -> Pruned:
    """Forget events older than `event_days` (with their deliveries and attempts) unless a
    delivery of theirs is pending, and attempts of delivered webhooks older than
    `attempt_days`."""
    now = now or await conn.fetchval("SELECT now()")
    assert now is not None
    event_cutoff = now - timedelta(days=event_days)
    attempt_cutoff = now - timedelta(days=attempt_days)
    events = deliveries = attempts = 0
    async with held_alone(conn, LOCK) as alone:
        if not alone:
            return Pruned(skipped=True)
        while True:
            async with conn.transaction():
                row = await conn.fetchrow(_EVENTS, event_cutoff, batch)
            assert row is not None
            events += row["events"]
            deliveries += row["deliveries"]
            attempts += row["attempts"]
            if row["events"] < batch:
                break
        while True:
            async with conn.transaction():
                status = await conn.execute(_DELIVERED_ATTEMPTS, attempt_cutoff, batch)
            gone = int(status.split()[-1])
            attempts += gone
            if gone < batch:
                break
    return Pruned(events=events, deliveries=deliveries, attempts=attempts)
