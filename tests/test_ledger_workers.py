"""The real server with two workers: an allowance answered by either worker counts every
call acknowledged by either worker before it (each worker's counts live in its memory)."""

from __future__ import annotations

import asyncio

from tests.support.client import SignedClient
from tests.support.ledger import call, ledger_cast, shanghai_day
from tests.test_trace_workers import Remote, server

__all__ = ["server"]  # the served node, two workers, as the trace's test serves it


async def test_every_acknowledged_call_counts_in_the_next_allowance(
    server: str, operator: SignedClient,
) -> None:
    c = await ledger_cast(operator, "+8613300000")
    carrier, agency = Remote(server, c.carrier), Remote(server, c.agency1)
    caller = c.numbers[c.agency1.id]
    day = shanghai_day(0)
    for n in range(12):
        debtor = f"+86139000000{n % 3:02d}"
        reporter = carrier if n % 2 else agency
        taken = await reporter.send("POST", "/v1/contacts", {"items": [
            call(caller, f"{day}T00:{n:02d}:00+08:00", callee=debtor)]})
        assert taken.status_code == 200, taken.text
        for asker in (carrier, agency):  # fresh connections: either worker answers
            answer = await asker.send("POST", "/v1/contacts/allowance", {
                "caller": caller, "callee": debtor, "at": f"{day}T09:00:00+08:00"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["principals"][0]["connected_today"] == n // 3 + 1


async def test_a_report_taken_by_either_worker_sees_every_call_the_other_took(
    server: str, operator: SignedClient,
) -> None:
    """A worker spares PostgreSQL the debtor-days its memory knows hold no call: its memory
    must then hold every call any worker took, or a repeat would count twice and the
    fourth call would not be over the limit."""
    c = await ledger_cast(operator, "+8613400000")
    carrier, agency = Remote(server, c.carrier), Remote(server, c.agency1)
    caller = c.numbers[c.agency1.id]
    day = shanghai_day(0)
    for n in range(8):
        debtor = f"+861390000{n % 2:04d}"  # two debtors, calls alternating between them
        first = call(caller, f"{day}T00:{n:02d}:00+08:00", callee=debtor)
        for reporter, repeat in ((carrier if n % 2 else agency, False),
                                 (agency if n % 2 else carrier, True)):
            taken = await reporter.send("POST", "/v1/contacts", {"items": [first]})
            assert taken.status_code == 200, taken.text
            result = taken.json()["results"][0]
            assert result["duplicate"] is repeat
            # The fourth connected call to a debtor is over the limit of three.
            assert result["over_limit"] is (not repeat and n // 2 >= 3)


async def test_the_same_call_reported_at_once_to_both_workers_counts_once(
    server: str, operator: SignedClient,
) -> None:
    """Both reports pass their worker's catch-up before either is logged: the one that
    takes the append lock second must bring its memory current under the lock."""
    c = await ledger_cast(operator, "+8613500000")
    carrier, agency = Remote(server, c.carrier), Remote(server, c.agency1)
    caller = c.numbers[c.agency1.id]
    day = shanghai_day(0)
    for n in range(12):
        same = {"items": [call(caller, f"{day}T01:{n:02d}:00+08:00",
                               callee=f"+86139100{n:05d}")]}
        answers = await asyncio.gather(carrier.send("POST", "/v1/contacts", same),
                                       agency.send("POST", "/v1/contacts", same))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted(a.json()["results"][0]["duplicate"] for a in answers) == [False, True]
