"""Nonces of concurrent requests are spent together (api/auth/nonces.py), and the replay
rule holds within a burst as it does between requests; Ed25519 checked by libsodium."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.auth.nonces import NonceSpender
from registry.db import Connection, create_pool
from registry.principals import Standing
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.signing import b64url


async def test_one_token_sent_many_times_at_once_is_accepted_once(
    operator: SignedClient,
) -> None:
    lender = await admit_member(operator, "lender")
    target = f"/v1/members/{lender.id}"
    token = lender.signer.token("GET", target)
    headers = {"Authorization": f"Bearer {token}"}
    answers = await asyncio.gather(*(lender.client.get(target, headers=headers)
                                     for _ in range(8)))
    assert Counter(a.status_code for a in answers) == {200: 1, 401: 7}
    assert {a.json()["code"] for a in answers if a.status_code == 401} == {"replay"}


async def test_a_burst_of_distinct_tokens_is_all_accepted(operator: SignedClient) -> None:
    lender = await admit_member(operator, "lender")
    target = f"/v1/members/{lender.id}"
    answers = await asyncio.gather(*(lender.get(target) for _ in range(40)))
    assert [a.status_code for a in answers] == [200] * 40


async def test_a_removed_member_is_refused_within_a_burst(operator: SignedClient) -> None:
    member = await admit_member(operator, "lender")
    other = await admit_member(operator, "carrier")
    target = f"/v1/members/{member.id}"
    await operator.post(f"/v1/members/{member.id}/status",
                        json={"status": "removed", "reason": "test"})
    answers = await asyncio.gather(*(c.get(target) for c in [member, other] * 5))
    assert [a.status_code for a in answers[1::2]] == [200] * 5
    assert [a.status_code for a in answers[0::2]] == [403] * 5


class Checkouts:
    """A connection factory over a pool that counts its checkouts and, given a gate,
    holds each checked-out connection until the gate opens."""

    def __init__(self, pool: asyncpg.Pool, gate: asyncio.Event | None = None) -> None:
        self.pool, self.gate = pool, gate
        self.count = 0
        self.started = asyncio.Event()

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[Connection]:
        self.count += 1
        self.started.set()
        async with self.pool.acquire() as conn:
            if self.gate is not None:
                await self.gate.wait()
            yield conn


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    made = await create_pool(database_url, 1, 2)
    yield made
    await made.close()


async def test_spends_of_one_burst_share_a_statement_and_keep_the_replay_rule(
    pool: asyncpg.Pool, operator: SignedClient,
) -> None:
    checkouts = Checkouts(pool)
    spender = NonceSpender(checkouts)
    who, kid = operator.signer.principal_id, operator.signer.kid
    exp = int(time.time()) + 120
    again = [spender.spend(who, kid, "j" * 20, exp) for _ in range(5)]
    fresh = [spender.spend(who, kid, f"{n:020d}", exp) for n in range(20)]
    unknown = spender.spend(who, "no-such-kid", "k" * 20, exp)
    answers = await asyncio.gather(*again, *fresh, unknown)
    standings = [a for a in answers[:-1] if a is not None]
    assert len(standings) == 25
    assert answers[-1] is None
    assert [a.fresh for a in standings[:5]] == [True, False, False, False, False]
    assert all(a.fresh and a.revoked_at is None for a in standings[5:])
    # The first burst took every distinct jti; each repeat of the one jti waited.
    assert checkouts.count == 5
    assert (await spender.spend(who, kid, f"{0:020d}", exp)) == Standing(False, None, None)


@pytest.mark.parametrize("cut", [0, 1, 63, 65])
async def test_an_ed25519_signature_of_the_wrong_length_is_a_bad_signature(
    operator: SignedClient, cut: int,
) -> None:
    lender = await admit_member(operator, "lender")
    target = f"/v1/members/{lender.id}"
    header, payload, signature = lender.signer.token("GET", target).split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    token = ".".join([header, payload, b64url((raw + b"\0")[:cut])])
    answer = await lender.client.get(target, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "bad_signature"


async def test_a_repeat_waiting_behind_a_cancelled_request_is_still_a_replay(
    pool: asyncpg.Pool, operator: SignedClient,
) -> None:
    spender = NonceSpender(pool.acquire)
    who, kid = operator.signer.principal_id, operator.signer.kid
    spend = (who, kid, "c" * 20, int(time.time()) + 120)
    first = asyncio.create_task(spender.spend(*spend))
    repeat = asyncio.create_task(spender.spend(*spend))
    await asyncio.sleep(0)  # both have arrived; the batch has not started
    first.cancel()
    answer = await asyncio.wait_for(repeat, 10)
    assert answer == Standing(False, None, None)


async def test_spends_that_arrive_during_a_batch_share_its_connection_and_a_failing_one_fails_alone(
    pool: asyncpg.Pool, operator: SignedClient,
) -> None:
    gate = asyncio.Event()
    checkouts = Checkouts(pool, gate)
    spender = NonceSpender(checkouts)
    who, kid = operator.signer.principal_id, operator.signer.kid
    exp = int(time.time()) + 120
    a, b, c = (secrets.token_hex(10) for _ in range(3))  # jtis no other test spent
    first = asyncio.create_task(spender.spend(who, kid, a, exp))
    await checkouts.started.wait()  # the first batch, [first], waits for its connection
    # These arrive while it does, and go next on the same connection, in one statement
    # that PostgreSQL refuses (no text holds NUL): both get its error, nothing else does.
    bad = asyncio.create_task(spender.spend(who, kid, b + "\0", exp))
    beside = asyncio.create_task(spender.spend(who, kid, c, exp))
    gate.set()
    assert await first == Standing(True, None, None)
    for refused in (bad, beside):
        with pytest.raises(Exception, match="0x00"):
            await refused
    assert checkouts.count == 1
    # The connection went back whole, and the refused statement spent nothing: the next
    # spend takes a connection again, and its jti is fresh.
    after = await spender.spend(who, kid, c, exp)
    assert after == Standing(True, None, None)
    assert checkouts.count == 2
