"""The ledger forgets: calls, counters and ended agreements past the retention go, and the
change log keeps only the data hash of old reports (the chain still verifies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from api.settings import Settings
from registry.ledger import store
from tests.support.client import SignedClient
from tests.support.ledger import allowance, call, ledger_cast, report

OLD = "2026-11-20T09:00:00+08:00"


def test_the_retention_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().contact_retention_days == 180
    monkeypatch.setenv("REGISTRY_CONTACT_RETENTION_DAYS", "30")
    assert Settings.from_env().contact_retention_days == 30


async def test_old_calls_expire_and_recent_ones_stay(
    operator: SignedClient, db: asyncpg.Connection
) -> None:
    c = await ledger_cast(operator, "+8613500000")
    a1 = c.numbers[c.agency1.id]
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await report(c.carrier, call(a1, OLD))
    old_entry = await db.fetchrow(
        "SELECT seq, data_hash, hash FROM change_log WHERE type = 'contact_report'"
        " ORDER BY seq DESC LIMIT 1")
    assert old_entry is not None
    # As if that report had been logged when the call was made.
    await db.execute("UPDATE change_log SET recorded_at = $1 WHERE seq = $2",
                     datetime.fromisoformat(OLD), old_entry["seq"])
    await report(c.carrier, call(a1, recent))
    made = await c.lender.post("/v1/contacts/agreements", {
        "callee": "+8613912345678", "daily_limit": 4,
        "valid_to": (datetime.now(UTC) + timedelta(minutes=5)).isoformat()})
    assert made.status_code == 201
    assert (await allowance(c.carrier, a1, OLD))["principals"][0]["connected_today"] == 1

    expired = await store.expire(db, 5)
    assert (expired.calls, expired.log_entries) == (1, 1)
    assert (await allowance(c.carrier, a1, OLD))["principals"][0]["connected_today"] == 0
    assert (await allowance(c.carrier, a1, recent))["principals"][0]["connected_today"] == 1
    kept = await db.fetchrow("SELECT data, data_hash, hash FROM change_log WHERE seq = $1",
                             old_entry["seq"])
    assert kept is not None
    assert (kept["data"], kept["data_hash"], kept["hash"]) == (
        None, old_entry["data_hash"], old_entry["hash"])
    # An agreement stays while valid, and is forgotten the retention after it ended.
    assert expired.agreements == 0
    later = await store.expire(db, 5, datetime.now(UTC) + timedelta(days=6))
    assert later.agreements == 1
    assert later.calls == 1
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0
