"""Rotating the debtor-hash key loses no count: calls held under the old version still
count, and a call reported again after the rotation is still the same call."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

from api.cli import main
from api.ledger_state import debtor_keys
from tests.support.client import SignedClient
from tests.support.ledger import allowance, call, ledger_cast, report, shanghai_day


async def test_a_rotation_keeps_every_count(
    operator: SignedClient, app: Litestar, data_dir: Path,
) -> None:
    c = await ledger_cast(operator, "+8613000000")
    a1 = c.numbers[c.agency1.id]
    day = shanghai_day(-1)
    first, second = call(a1, f"{day}T09:00:00+08:00"), call(a1, f"{day}T10:00:00+08:00")
    old_day = shanghai_day(-4)  # a day PostgreSQL counts rather than workers' memory
    await report(c.carrier, first, call(a1, f"{old_day}T09:00:00+08:00"))
    made = await c.lender.post("/v1/contacts/agreements", {
        "callee": first["callee"], "daily_limit": 4, "valid_to": "2030-01-01T00:00:00+08:00"})
    assert made.status_code == 201

    assert main(["debtor-key", "rotate", "--data-dir", str(data_dir)]) == 0
    app.state.node.extras.pop("debtor_keys")  # as a restarted worker reads the keys afresh
    assert debtor_keys(app.state.node).current == 2

    again, new = await report(c.agency1, first, second)
    assert (again["duplicate"], new["duplicate"]) == (True, False)
    answer = await allowance(c.carrier, a1, f"{day}T11:00:00+08:00")
    (standing,) = answer["principals"]
    assert (standing["connected_today"], standing["limit"], standing["agreed"]) == (2, 4, True)
    await report(c.carrier, call(a1, f"{old_day}T10:00:00+08:00"))
    assert (await allowance(c.carrier, a1, f"{old_day}T12:00:00+08:00"))["principals"][0][
        "connected_today"] == 2
