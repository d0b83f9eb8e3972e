"""The real server with two workers: an allowance answered by either worker counts every
call acknowledged by either worker before it (each worker's counts live in its memory)."""

from __future__ import annotations

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
