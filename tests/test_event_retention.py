"""The event outbox forgets (docs/events.md, "Retention"): a delivered webhook's attempt
records after their retention, old events with their deliveries after theirs, never a
delivery still pending nor its event; failed deliveries keep their attempts with the event.
And the node's housekeeping outlives a chore that fails."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from api.housekeeping import Housekeeping, chores_of
from api.settings import Settings
from registry import db as database
from registry.events import retention
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.receiver import receiving

REFUSED = "http://127.0.0.1:9/hook"  # nothing listens: every attempt fails at once


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    webhook_allow_http_loopback=True, webhook_poll_seconds=0.05,
                    webhook_backoff_seconds=3600)


def test_the_retentions_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.event_retention_days, defaults.webhook_attempt_retention_days,
            defaults.evaluation_notice_days) == (400, 30, 30)
    monkeypatch.setenv("REGISTRY_EVENT_RETENTION_DAYS", "90")
    monkeypatch.setenv("REGISTRY_WEBHOOK_ATTEMPT_RETENTION_DAYS", "7")
    monkeypatch.setenv("REGISTRY_EVALUATION_NOTICE_DAYS", "14")
    configured = Settings.from_env()
    assert (configured.event_retention_days, configured.webhook_attempt_retention_days,
            configured.evaluation_notice_days) == (90, 7, 14)
    with pytest.raises(ValueError, match="event_retention_days"):
        Settings(event_retention_days=0)
    with pytest.raises(ValueError, match="evaluation_notice_days"):
        Settings(evaluation_notice_days=-1)


async def delivery_state(db: asyncpg.Connection, member_id: str, want: str) -> int:
    """Wait for the member's latest delivery to reach `want`; its event's seq."""
    for _ in range(200):
        row = await db.fetchrow(
            "SELECT event_seq, state, attempts FROM webhook_deliveries WHERE member_id = $1"
            " ORDER BY event_seq DESC LIMIT 1", member_id)
        if row is not None and row["state"] == want and row["attempts"] > 0:
            return int(row["event_seq"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {want} delivery for the member")


async def counts(db: asyncpg.Connection, seq: int) -> tuple[int, int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM events WHERE seq = $1) AS e,"
        " (SELECT count(*) FROM webhook_deliveries WHERE event_seq = $1) AS d,"
        " (SELECT count(*) FROM webhook_attempts WHERE event_seq = $1) AS a", seq)
    assert row is not None
    return row["e"], row["d"], row["a"]


async def test_delivered_attempts_go_first_then_old_events_but_never_a_pending_one(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    delivered_to = await admit_member(operator, "lender")
    failing = await admit_member(operator, "lender")
    pending = await admit_member(operator, "lender")
    unsubscribed = await admit_member(operator, "lender")
    with receiving([500, 200]) as receiver:
        put = await delivered_to.request("PUT", f"/v1/members/{delivered_to.id}/webhook",
                                         json={"url": receiver.url})
        assert put.status_code == 200, put.text
        for member in (failing, pending):
            put = await member.request("PUT", f"/v1/members/{member.id}/webhook",
                                       json={"url": REFUSED})
            assert put.status_code == 200, put.text
        for member in (delivered_to, failing, pending, unsubscribed):
            await operator.post(f"/v1/members/{member.id}/status",
                                {"status": "suspended", "reason": "检查"})
        # The 500 is retried an hour later: the delivery is pending; make it due now.
        await delivery_state(db, delivered_to.id, "pending")
        await db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()"
                         " WHERE member_id = $1", delivered_to.id)
        delivered = await delivery_state(db, delivered_to.id, "delivered")
    await delivery_state(db, pending.id, "pending")
    # A member that removes its webhook gives its pending deliveries up: failed.
    failed = await delivery_state(db, failing.id, "pending")
    back = await operator.post(f"/v1/members/{failing.id}/status",
                               {"status": "active", "reason": "恢复"})
    assert back.status_code == 200, back.text
    removed = await failing.request("DELETE", f"/v1/members/{failing.id}/webhook")
    assert removed.status_code in (200, 204), removed.text
    still_pending = await delivery_state(db, pending.id, "pending")
    plain = await db.fetchval("SELECT max(seq) FROM events WHERE recipient = $1",
                              unsubscribed.id)
    assert await counts(db, delivered) == (1, 1, 2)
    assert await counts(db, failed) == (1, 1, 1)
    assert await counts(db, still_pending) == (1, 1, 1)
    now = await db.fetchval("SELECT now()")

    # A month on: the delivered webhook's attempt records go, nothing else.
    month = await retention.prune(db, event_days=400, attempt_days=30,
                                  now=now + timedelta(days=31))
    assert (month.events, month.deliveries) == (0, 0)
    assert month.attempts >= 2
    assert await counts(db, delivered) == (1, 1, 0)
    assert await counts(db, failed) == (1, 1, 1)
    assert await counts(db, still_pending) == (1, 1, 1)
    assert await counts(db, plain) == (1, 0, 0)

    # Past the events' retention: every event goes with its delivery and attempts, in
    # batches, but the one whose delivery is pending stays, and its feed still reads.
    later = await retention.prune(db, event_days=400, attempt_days=30,
                                  now=now + timedelta(days=401), batch=2)
    assert later.events >= 3
    assert await counts(db, delivered) == (0, 0, 0)
    assert await counts(db, failed) == (0, 0, 0)
    assert await counts(db, plain) == (0, 0, 0)
    assert await counts(db, still_pending) == (1, 1, 1)
    assert await db.fetchval(
        "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d"
        " WHERE d.event_seq = e.seq AND d.state = 'pending')") == 0
    feed = await unsubscribed.get("/v1/events")
    assert feed.status_code == 200, feed.text
    assert feed.json()["items"] == []
    left = await pending.get("/v1/events")
    assert [e["type"] for e in left.json()["items"]] == ["member.status_changed"]


async def test_one_worker_prunes_at_a_time(db: asyncpg.Connection, database_url: str) -> None:
    other = await asyncpg.connect(database_url)
    try:
        async with other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock($1)", retention.LOCK)
            assert (await retention.prune(db, event_days=400, attempt_days=30)).skipped
        assert not (await retention.prune(db, event_days=400, attempt_days=30)).skipped
        # The job let go of its lock: another worker may take it.
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", retention.LOCK)
    finally:
        await other.close()


async def test_housekeeping_outlives_a_database_that_is_gone(
    settings: Settings, database_url: str, client: AsyncTestClient[Any],
) -> None:
    # `client`: the node has started on this database (its identity is set), as it has
    # wherever housekeeping runs.
    closed = await database.create_pool(database_url, 1, 1)
    await closed.close()
    keeper = Housekeeping(closed, chores_of(settings), tick=0.01)
    names = [c.name for c in keeper.chores]
    assert {"supervision_reminders", "event_retention", "contact_retention"} <= set(names)
    with capture_logs() as logs:
        task = asyncio.create_task(keeper.forever())
        try:
            for _ in range(100):
                if len([e for e in logs if e["event"] == "housekeeping_failed"]) \
                        >= 2 * len(names):
                    break
                await asyncio.sleep(0.02)
            assert not task.done()  # failed each chore, twice, and is still running
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    failures = [e["chore"] for e in logs if e["event"] == "housekeeping_failed"]
    assert failures[:len(names)] == names

    # Once the database is back, every chore that failed runs at the next tick.
    keeper.pool = await database.create_pool(database_url, 1, 2)
    try:
        with capture_logs() as logs:
            failed = await keeper.run_due()
        assert failed == [], [e for e in logs if e["event"] == "housekeeping_failed"]
        assert {"supervision_reminders", "event_retention"} <= {e["event"] for e in logs}
        # The hourly ones are done for the hour; the purge runs every tick.
        with capture_logs() as logs:
            assert await keeper.run_due() == []
        assert not {"supervision_reminders", "event_retention"} & {e["event"] for e in logs}
    finally:
        await keeper.pool.close()
