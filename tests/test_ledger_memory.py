"""A worker asks PostgreSQL only about the debtor-days its memory cannot rule out; should
its memory ever miss a call (a row written around the change log), the report is held
again asking PostgreSQL about every debtor-day: the call is still a repeat, never a 500."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import asyncpg
from litestar import Litestar
from structlog.testing import capture_logs

from api.ledger_state import debtor_keys
from api.trace_state import trace_state
from registry.ledger.counting import day_start
from registry.ledger.memory import DebtorDays
from tests.support.client import SignedClient
from tests.support.ledger import call, ledger_cast, report, shanghai_day


async def test_a_call_the_memory_missed_is_still_a_repeat(
    operator: SignedClient, app: Litestar, db: asyncpg.Connection,
) -> None:
    c = await ledger_cast(operator, "+8613600000")
    caller = c.numbers[c.agency1.id]
    debtor = "+8613912345678"
    made = call(caller, f"{shanghai_day(0)}T00:30:00+08:00", callee=debtor)
    started = datetime.fromisoformat(made["started_at"])
    hashed = debtor_keys(app.state.node).hash(debtor)
    memory = trace_state(app.state.node).ledger
    assert memory.holds_none(hashed, int(started.timestamp()))
    await db.execute(
        "INSERT INTO contacts (callee_hash, started_at, caller, hash_version, duration_s,"
        " channel, principals, origin, reporter_id) VALUES ($1, $2, $3, $4, 42, 'voice',"
        " $5, 'node-test', $6)", hashed, started.astimezone(UTC), caller,
        debtor_keys(app.state.node).current, [c.lender.id], c.carrier.id)
    with capture_logs() as logs:
        (result,) = await report(c.carrier, made)
    assert result["duplicate"] is True
    assert "ledger_memory_missed_a_call" in [e["event"] for e in logs]
    # A call the memory knows of is ruled in, and a day the memory does not hold is never
    # ruled out.
    second = call(caller, f"{shanghai_day(0)}T00:40:00+08:00", callee="+8613912345679")
    await report(c.carrier, second)
    at = int(datetime.fromisoformat(second["started_at"]).timestamp())
    assert not memory.holds_none(debtor_keys(app.state.node).hash("+8613912345679"), at)
    assert not memory.holds_none(hashed, day_start(at) - 3 * 86400)


def test_the_debtor_days_filter_never_forgets_a_call_and_seldom_invents_one() -> None:
    seen = DebtorDays()
    called = [secrets.token_bytes(16) for _ in range(200_000)]
    for debtor in called:
        seen.add(debtor, 20_000)
    assert all(seen.may_hold(debtor, 20_000) for debtor in called)
    strangers = [secrets.token_bytes(16) for _ in range(100_000)]
    invented = sum(seen.may_hold(debtor, 20_000) for debtor in strangers)
    assert invented < 100  # under 0.1 %; about 0.0006 % expected at this load
    assert not seen.may_hold(called[0], 20_001)  # another day holds nothing yet
    seen.add(called[0], 20_001)
    seen.forget_before(20_001)
    assert not seen.may_hold(called[1], 20_000)
    assert seen.may_hold(called[0], 20_001)
