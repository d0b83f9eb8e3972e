"""The contact ledger over HTTP (API.md §12): API.md's worked example, step by step, on a
real PostgreSQL: one lender's agencies share one count, another lender's count apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.client import SignedClient
from tests.support.ledger import (
    DEBTOR,
    Ledger,
    allowance,
    call,
    ledger_cast,
    report,
    shanghai_day,
)

DAY = shanghai_day(-1)  # yesterday: counted in the worker's memory
TODAY = shanghai_day(0)
EDGE_DAY = shanghai_day(-2)
COLD_DAY = shanghai_day(-5)  # counted by PostgreSQL


def at(clock: str, day: str = DAY) -> str:
    return f"{day}T{clock}+08:00"


@pytest.fixture(scope="module")
async def cast(operator: SignedClient) -> Ledger:
    return await ledger_cast(operator)


def number(c: Ledger, agency: SignedClient) -> str:
    return c.numbers[agency.id]


def standing(answer: dict[str, Any], principal: SignedClient) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in answer["principals"] if p["id"] == principal.id]
    assert len(found) == 1
    return found[0]


async def test_worked_example(cast: Ledger) -> None:
    c = cast
    a1, a2, b1 = number(c, c.agency1), number(c, c.agency2), number(c, c.other_agency)
    first = await report(c.carrier, call(a1, at("09:00:00")), call(a2, at("10:00:00"), 30),
                         call(b1, at("10:30:00"), 30), call(a1, at("11:00:00"), 0))
    assert [r["principals"] for r in first] == [
        [c.lender.id], [c.lender.id], [c.other_lender.id], [c.lender.id]]
    assert all(r["traceable"] and not r["over_limit"] for r in first)
    # The same call reported again, by the agency that made it: counted once.
    (again,) = await report(c.agency1, call(a1, at("09:00:00")))
    assert again["duplicate"] is True
    # A zero-length call is not connected: two connected so far, the third is allowed.
    two = await allowance(c.carrier, a2, at("11:30:00"))
    assert standing(two, c.lender) == {
        "id": c.lender.id, "connected_today": 2, "effective_today": 2, "limit": 3,
        "agreed": False, "allowed": True, "sms_today": 0, "window_open": True}
    assert two["allowed"] is True
    third, fourth = await report(c.agency2, call(a2, at("12:00:00"), 5),
                                 call(a2, at("13:00:00"), 60))
    assert (third["over_limit"], fourth["over_limit"]) == (False, True)
    # Either agency of the lender asks: one count for the lender and all its agencies.
    full = await allowance(c.agency1, a1, at("14:00:00"))
    assert (standing(full, c.lender)["connected_today"],
            standing(full, c.lender)["effective_today"]) == (4, 3)
    assert full["allowed"] is False
    assert standing(full, c.lender)["allowed"] is False
    # Another lender's agency counted apart: one connected call.
    apart = await allowance(c.other_agency, b1, at("14:00:00"))
    assert standing(apart, c.other_lender)["connected_today"] == 1
    assert apart["allowed"] is True
    # The next Shanghai day starts afresh (00:00 +08:00 is 16:00 UTC the day before).
    assert (await allowance(c.carrier, a1, at("00:00:00", TODAY)))["principals"][0][
        "connected_today"] == 0
    assert (await allowance(c.carrier, a1, f"{DAY}T15:59:59Z"))["principals"][0][
        "connected_today"] == 4
    # SMS reported and shown apart; it counts toward no limit of its own.
    (sms,) = await report(c.carrier, call(a1, at("15:00:00"), 0, "sms"))
    assert (sms["over_limit"], sms["duplicate"]) == (False, False)
    shown = standing(await allowance(c.carrier, a1, at("15:30:00")), c.lender)
    assert (shown["sms_today"], shown["connected_today"]) == (1, 4)


async def test_the_window_at_its_edges(cast: Ledger) -> None:
    a1 = number(cast, cast.agency1)
    day = EDGE_DAY
    open_ = await allowance(cast.carrier, a1, at("21:59:59", day))
    closed = await allowance(cast.carrier, a1, at("22:00:00", day))
    early = await allowance(cast.carrier, a1, at("07:59:59", day))
    assert (open_["window"]["open"], open_["allowed"]) == (True, True)
    assert (closed["window"]["open"], closed["allowed"]) == (False, False)
    assert early["window"]["open"] is False
    (late,) = await report(cast.carrier, call(a1, at("22:00:00", day)))
    assert late["outside_window"] is True
    (in_time,) = await report(cast.carrier, call(a1, at("21:59:59", day)))
    assert in_time["outside_window"] is False


async def test_an_agreement_changes_its_lender_only(operator: SignedClient) -> None:
    c = await ledger_cast(operator, "+8613400000")  # its own: tests may run apart
    a1, b1 = number(c, c.agency1), number(c, c.other_agency)
    await report(c.carrier, *[call(a1, at(f"{9 + n:02d}:00:00")) for n in range(4)],
                 call(a1, at("15:00:00"), 0, "sms"))
    refused = await c.agency1.post("/v1/contacts/agreements", {
        "callee": DEBTOR, "daily_limit": 5, "valid_to": "2027-06-30T00:00:00+08:00"})
    assert refused.status_code == 403, refused.text
    made = await c.lender.post("/v1/contacts/agreements", {
        "callee": "139 1234 5678", "daily_limit": 5,
        "hours": {"start": "08:00", "end": "23:00"}, "valid_to": "2027-06-30T00:00:00+08:00"})
    assert made.status_code == 201, made.text
    assert "callee" not in made.json()
    late = await allowance(c.carrier, a1, at("22:30:00"))
    assert standing(late, c.lender) == {
        "id": c.lender.id, "connected_today": 4, "effective_today": 4, "limit": 5,
        "agreed": True, "allowed": True, "sms_today": 1, "window_open": True}
    assert late["window"] == {"tz": "Asia/Shanghai", "start": "08:00", "end": "23:00",
                              "open": True}
    assert late["allowed"] is True
    other = await allowance(c.carrier, b1, at("22:30:00"))
    assert (standing(other, c.other_lender)["limit"], other["allowed"],
            other["window"]["open"]) == (3, False, False)
    # The fifth call is within the agreed limit; the sixth is over it.
    fifth, sixth = await report(c.carrier, call(a1, at("16:00:00")), call(a1, at("16:05:00")))
    assert (fifth["over_limit"], sixth["over_limit"]) == (False, True)
    # Ended: the guideline's limit and hours again.
    ended = await c.lender.delete(f"/v1/contacts/agreements/{made.json()['id']}")
    assert ended.status_code == 204, ended.text
    back = await allowance(c.carrier, a1, at("22:30:00"))
    assert (standing(back, c.lender)["limit"], back["allowed"]) == (3, False)
    gone = await c.lender.delete(f"/v1/contacts/agreements/{made.json()['id']}")
    assert gone.status_code == 404


async def test_trace_with_callee(cast: Ledger) -> None:
    a1 = number(cast, cast.agency1)
    debtor = "+8613911112222"
    await report(cast.carrier, *[call(a1, at(f"{9 + n:02d}:00:00"), callee=debtor)
                                 for n in range(3)])
    target = f"/v1/trace/{quote(a1, safe='')}?at={quote(at('14:00:00'), safe='')}" \
             f"&callee={quote(debtor, safe='')}"
    answer = await cast.carrier.get(target)
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact"] == {"connected_today": 3, "limit": 3, "allowed": False}
    assert answer.json()["principals"][0]["id"] == cast.lender.id
    plain = await cast.carrier.get(f"/v1/trace/{quote(a1, safe='')}")
    assert "contact" not in plain.json()


async def test_bad_batches_count_nothing(cast: Ledger) -> None:
    c = cast
    a1 = number(c, c.agency1)
    before = standing(await allowance(c.carrier, a1, at("09:00:00", COLD_DAY)), c.lender)
    good = call(a1, at("09:00:00", COLD_DAY))
    cases: list[tuple[dict[str, Any], str]] = [
        (call(a1, at("09:05:00", COLD_DAY), -1), "items[1].duration_s"),
        (call(a1, at("09:05:00", COLD_DAY), 5, "fax"), "items[1].channel"),
        (call(a1, at("09:05:00", COLD_DAY), callee="不是号码"), "items[1].callee"),
        (call("nonsense!", at("09:05:00", COLD_DAY)), "items[1].caller"),
        (call(a1, "2099-01-01T09:00:00+08:00"), "items[1].started_at"),
    ]
    for bad, field in cases:
        answer = await c.carrier.post("/v1/contacts", {"items": [good, bad]})
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid"
        assert [e["field"] for e in answer.json()["errors"]] == [field]
    too_many = await c.carrier.post("/v1/contacts", {"items": [good] * 10_001})
    assert too_many.status_code in (413, 422)
    # An agency reports calls from its own numbers only: one foreign item refuses all.
    foreign = await c.agency1.post("/v1/contacts", {"items": [
        good, call(number(c, c.agency2), at("09:10:00", COLD_DAY))]})
    assert foreign.status_code == 403, foreign.text
    operator_report = await c.lender.post("/v1/contacts", {"items": [good]})
    assert operator_report.status_code == 403
    after = standing(await allowance(c.carrier, a1, at("09:00:00", COLD_DAY)), c.lender)
    assert after == before
    assert after["connected_today"] == 0
    # ...and the good call alone is taken.
    (taken,) = await report(c.agency1, good)
    assert taken["duplicate"] is False


async def test_unknown_debtor_and_caller(cast: Ledger) -> None:
    fresh = await allowance(cast.carrier, "+8613800009999", at("10:00:00"))
    assert fresh == {"allowed": False, "traceable": False, "reason": "unregistered",
                     "window": {"tz": "Asia/Shanghai", "start": "08:00", "end": "22:00",
                                "open": True}, "principals": []}
    bad = await cast.carrier.post("/v1/contacts/allowance", {
        "caller": number(cast, cast.agency1), "callee": "abc", "at": at("10:00:00")})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "callee"


async def test_calls_either_side_of_an_entrustment_ending(operator: SignedClient) -> None:
    """One batch, one number: attributed call by call at each call's start."""
    c = await ledger_cast(operator, "+8613200000")
    a2 = number(c, c.agency2)
    ended = await c.lender.post(f"/v1/entrustments/{c.entrustments[c.agency2.id]}/end",
                                {"reason": "合同到期"})
    assert ended.status_code == 200, ended.text
    now = datetime.now(UTC)
    before, after = await report(c.carrier, call(a2, (now - timedelta(seconds=90)).isoformat()),
                                 call(a2, (now + timedelta(seconds=90)).isoformat()))
    assert (before["principals"], before["traceable"]) == ([c.lender.id], True)
    assert (after["principals"], after["traceable"]) == ([], False)
