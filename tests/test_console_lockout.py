"""Sign-in lockout per (login, client address): an outsider who knows a login cannot keep
staff out, a lock that runs out gives a fresh count, and locks in a row grow longer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from registry.console import credentials, lockout
from registry.console.sealing import load_or_create_key
from tests.support.console import ConsoleLogin, make_console_operator

ATTACKER = "203.0.113.7"
STAFF_DESK = "198.51.100.20"


@pytest.fixture
async def staff(db: asyncpg.Connection, data_dir: Path) -> ConsoleLogin:
    return await make_console_operator(db, data_dir, "值班经理")


async def _sign_in(db: asyncpg.Connection, data_dir: Path, who: ConsoleLogin, client: str,
                   password: str | None = None) -> str:
    await db.execute("UPDATE operator_credentials SET totp_last_step = 0")
    return await credentials.authenticate(
        db, load_or_create_key(data_dir / "console.key"), who.login,
        who.password if password is None else password, who.code(), client=client)


async def _fail_times(db: asyncpg.Connection, data_dir: Path, who: ConsoleLogin, client: str,
                      times: int) -> list[str]:
    reasons = []
    for _ in range(times):
        with pytest.raises(credentials.SignInFailed) as failed:
            await _sign_in(db, data_dir, who, client, password="not the password!")
        reasons.append(failed.value.why)
    return reasons


async def _lock_ends(db: asyncpg.Connection, who: ConsoleLogin, client: str) -> timedelta:
    """How long the pair's lock has left, then make it run out now."""
    left: timedelta = await db.fetchval(
        "SELECT locked_until - now() FROM sign_in_failures WHERE login = $1 AND client = $2",
        who.login, client)
    await db.execute("UPDATE sign_in_failures SET locked_until = now() - interval '1 second'"
                     " WHERE login = $1 AND client = $2", who.login, client)
    return left


async def test_an_outsider_locks_only_itself_out(
    db: asyncpg.Connection, data_dir: Path, staff: ConsoleLogin,
) -> None:
    await _fail_times(db, data_dir, staff, ATTACKER, lockout.MAX_FAILURES)
    # the right password and code from the attacker's address: still locked
    with pytest.raises(credentials.SignInFailed) as locked:
        await _sign_in(db, data_dir, staff, ATTACKER)
    assert locked.value.why == "locked"
    # the operator at their desk signs in
    assert await _sign_in(db, data_dir, staff, STAFF_DESK) == staff.operator_id


async def test_a_lock_that_ran_out_gives_a_fresh_count_and_the_next_lock_is_longer(
    db: asyncpg.Connection, data_dir: Path, staff: ConsoleLogin,
) -> None:
    await _fail_times(db, data_dir, staff, ATTACKER, lockout.MAX_FAILURES)
    first = await _lock_ends(db, staff, ATTACKER)
    assert lockout.LOCKOUT - timedelta(minutes=1) < first <= lockout.LOCKOUT
    # one more failure after the lock: not locked again at once (a fresh count) ...
    assert await _fail_times(db, data_dir, staff, ATTACKER, 1) == ["wrong password"]
    assert not await lockout.is_locked(db, staff.login, ATTACKER)
    # ... until the count is full again, and then for twice as long
    await _fail_times(db, data_dir, staff, ATTACKER, lockout.MAX_FAILURES - 1)
    assert await lockout.is_locked(db, staff.login, ATTACKER)
    second = await _lock_ends(db, staff, ATTACKER)
    assert 2 * lockout.LOCKOUT - timedelta(minutes=1) < second <= 2 * lockout.LOCKOUT
    # after the lock, the right credentials work and clear the pair
    assert await _sign_in(db, data_dir, staff, ATTACKER) == staff.operator_id
    assert await db.fetchval("SELECT count(*) FROM sign_in_failures WHERE login = $1",
                             staff.login) == 0


async def test_a_quiet_day_forgets_the_pair(
    db: asyncpg.Connection, data_dir: Path, staff: ConsoleLogin,
) -> None:
    await _fail_times(db, data_dir, staff, ATTACKER, lockout.MAX_FAILURES)
    await db.execute("UPDATE sign_in_failures SET last_failure = now() - interval '25 hours',"
                     " locked_until = now() - interval '24 hours' WHERE login = $1", staff.login)
    await _fail_times(db, data_dir, staff, ATTACKER, lockout.MAX_FAILURES)
    assert await _lock_ends(db, staff, ATTACKER) <= lockout.LOCKOUT  # not doubled
    await lockout.purge(db)
    await db.execute("UPDATE sign_in_failures SET last_failure = now() - interval '25 hours'"
                     " WHERE login = $1", staff.login)
    await lockout.purge(db)
    assert await db.fetchval("SELECT count(*) FROM sign_in_failures WHERE login = $1",
                             staff.login) == 0


async def test_unknown_logins_lock_alike_and_a_new_password_clears_every_lock(
    db: asyncpg.Connection, data_dir: Path, staff: ConsoleLogin,
) -> None:
    nobody = ConsoleLogin("", "", "no-such-login", "whatever password", staff.totp_secret)
    assert set(await _fail_times(db, data_dir, nobody, ATTACKER, lockout.MAX_FAILURES)) == {
        "unknown login"}
    assert await _fail_times(db, data_dir, nobody, ATTACKER, 1) == ["locked"]

    await _fail_times(db, data_dir, staff, ATTACKER, lockout.MAX_FAILURES)
    await _fail_times(db, data_dir, staff, STAFF_DESK, lockout.MAX_FAILURES)
    await credentials.set_password(db, staff.operator_id, staff.password)
    assert await _sign_in(db, data_dir, staff, STAFF_DESK) == staff.operator_id
    assert not await lockout.is_locked(db, staff.login, ATTACKER)


@pytest.mark.parametrize(("address", "counted_as"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("testclient", "testclient"),
])
def test_client_addresses_are_counted_by_host_or_ipv6_block(address: str, counted_as: str) -> None:
    assert lockout.client_key(address) == counted_as
