"""The trace decision on its own (no database): every reason, every order of failures,
the calling window's edges, entrustment dates and subcontracts (API.md §6)."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from registry.trace.decision import (
    FOREVER,
    NOBODY,
    REASONS,
    SHANGHAI,
    Party,
    Supply,
    Term,
    day_start,
    decide,
    window,
)

AT = int(datetime(2026, 11, 28, 9, 30, tzinfo=SHANGHAI).timestamp())
LINKS = REASONS  # each reason names the one link whose failure it reports


def at_local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).timestamp())


def world(failing: frozenset[str]) -> tuple[Supply | None, list[Party], list[Term]]:
    """A carrier (0) supplies an agency (1) that lender (2) entrusts (term 0); each named
    link in `failing` is broken, the rest hold."""
    parties = [
        Party("carrier", "carrier", "电信", "U1", "supplier_inactive" not in failing),
        Party("agency", "collection_agency", "催收", "U2", "user_inactive" not in failing),
        Party("lender", "lender", "贷款", "U3", True),
    ]
    terms = [Term("e1", 2, 1, day_start("2026-01-01"), day_start("2026-12-31", next_day=True))]
    if "unregistered" in failing:
        return None, parties, terms
    supply = Supply(
        "voice", 0, 1,
        valid_from=AT + 10 if "expired" in failing else AT - 10,
        confirmed_by=NOBODY if "unconfirmed" in failing else 1,
        filings=() if "no_principal" in failing else (0,),
    )
    return supply, parties, terms


@pytest.mark.parametrize("size", range(len(LINKS) + 1))
def test_the_first_failing_link_in_contract_order_is_the_reason(size: int) -> None:
    for failing in itertools.combinations(LINKS, size):
        supply, parties, terms = world(frozenset(failing))
        verdict = decide(supply, AT, parties, terms)
        expected = next((r for r in REASONS if r in failing), None)
        assert verdict.reason == expected, failing
        assert (verdict.principals == (2,)) is (expected is None)


def test_every_reason_is_reported_alone() -> None:
    for reason in REASONS:
        supply, parties, terms = world(frozenset({reason}))
        assert decide(supply, AT, parties, terms).reason == reason


@pytest.mark.parametrize(("moment", "expected"), [
    (at_local(2026, 11, 28, 7, 59, 59), False),
    (at_local(2026, 11, 28, 8, 0, 0), True),
    (at_local(2026, 11, 28, 21, 59, 59), True),
    (at_local(2026, 11, 28, 22, 0, 0), False),
    (at_local(2026, 11, 28, 0, 0, 0), False),
    (at_local(2026, 11, 28, 12, 0, 0), True),
])
def test_calling_window_edges_in_asia_shanghai(moment: int, expected: bool) -> None:
    shown = window(moment)
    assert shown.open is expected
    assert (shown.tz, shown.start, shown.end) == ("Asia/Shanghai", "08:00", "22:00")


def test_window_is_computed_in_shanghai_whatever_the_offset_of_at() -> None:
    # 00:30 UTC is 08:30 in Beijing: open; 14:00 UTC is 22:00 there: closed.
    assert window(int(datetime.fromisoformat("2026-11-28T00:30:00+00:00").timestamp())).open
    assert not window(int(datetime.fromisoformat("2026-11-28T14:00:00Z").timestamp())).open


def test_validity_is_from_inclusive_to_exclusive() -> None:
    supply, parties, terms = world(frozenset())
    assert supply is not None
    bounded = Supply("voice", 0, 1, AT, AT + 60, 1, (0,))
    assert decide(bounded, AT, parties, terms).reason is None
    assert decide(bounded, AT + 59, parties, terms).reason is None
    assert decide(bounded, AT + 60, parties, terms).reason == "expired"
    assert decide(bounded, AT - 1, parties, terms).reason == "expired"


def test_entrustment_is_current_on_its_first_and_last_day_only() -> None:
    _, parties, _ = world(frozenset())
    supply = Supply("voice", 0, 1, 0, FOREVER, 1, (0,))
    terms = [Term("e1", 2, 1, day_start("2026-11-28"), day_start("2026-11-29", next_day=True))]
    assert decide(supply, at_local(2026, 11, 28, 0, 0, 0), parties, terms).reason is None
    assert decide(supply, at_local(2026, 11, 29, 23, 59, 59), parties, terms).reason is None
    assert decide(supply, at_local(2026, 11, 30, 0, 0, 0), parties, terms).reason == (
        "no_principal")
    assert decide(supply, at_local(2026, 11, 27, 23, 59, 59), parties, terms).reason == (
        "no_principal")


def test_an_ended_entrustment_stops_at_the_moment_it_ended() -> None:
    supply, parties, _ = world(frozenset())
    terms = [Term("e1", 2, 1, day_start("2026-01-01"), AT)]
    assert decide(supply, AT - 1, parties, terms).reason is None
    assert decide(supply, AT, parties, terms).reason == "no_principal"


def test_a_lender_or_debt_buyer_user_is_its_own_principal_without_filing() -> None:
    for kind in ("lender", "debt_buyer"):
        parties = [Party("c", "carrier", "c", "u", True), Party("l", kind, "l", "u", True)]
        verdict = decide(Supply("voice", 0, 1, AT - 1, FOREVER, 1), AT, parties, [])
        assert (verdict.reason, verdict.principals) == (None, (1,))


def test_principals_must_be_active_lenders_entrusting_this_user() -> None:
    supply, parties, terms = world(frozenset())
    inactive = [*parties[:2], Party("lender", "lender", "贷款", "U3", False)]
    assert decide(supply, AT, inactive, terms).reason == "no_principal"
    other_agency = [Term("e1", 2, 0, terms[0].start, terms[0].end)]
    assert decide(supply, AT, parties, other_agency).reason == "no_principal"
    unknown = [*parties, Party("ghost")]
    stranger = [Term("e1", 3, 1, terms[0].start, terms[0].end)]
    assert decide(supply, AT, unknown, stranger).reason == "no_principal"


def test_several_principals_are_listed_once_each() -> None:
    parties = [Party("c", "carrier", "c", "u", True),
               Party("a", "collection_agency", "a", "u", True),
               Party("l1", "lender", "l1", "u", True), Party("l2", "debt_buyer", "l2", "u", True)]
    year = (day_start("2026-01-01"), day_start("2026-12-31", next_day=True))
    terms = [Term("e1", 2, 1, *year), Term("e2", 3, 1, *year), Term("e3", 2, 1, *year)]
    supply = Supply("voice", 0, 1, AT - 1, FOREVER, 1, (0, 1, 2))
    assert decide(supply, AT, parties, terms).principals == (2, 3)


def test_a_subcontract_reaches_no_further_than_its_parent() -> None:
    parties = [Party("c", "carrier", "c", "u", True),
               Party("sub", "collection_agency", "s", "u", True),
               Party("l", "lender", "l", "u", True),
               Party("a", "collection_agency", "a", "u", True)]
    year = (day_start("2026-01-01"), day_start("2026-12-31", next_day=True))
    parent = Term("e1", 2, 3, *year)
    sub = Term("e2", 2, 1, *year, parent=0)
    supply = Supply("voice", 0, 1, AT - 1, FOREVER, 1, (1,))
    assert decide(supply, AT, parties, [parent, sub]).principals == (2,)
    ended_parent = Term("e1", 2, 3, year[0], AT)
    assert decide(supply, AT, parties, [ended_parent, sub]).reason == "no_principal"
    # A subcontract under a subcontract never counts.
    nested = [Term("e0", 2, 3, *year), Term("e1", 2, 3, *year, parent=0),
              Term("e2", 2, 1, *year, parent=1)]
    deep = Supply("voice", 0, 1, AT - 1, FOREVER, 1, (2,))
    assert decide(deep, AT, parties, nested).reason == "no_principal"


def test_a_confirmation_by_someone_else_does_not_count() -> None:
    supply, parties, terms = world(frozenset())
    assert supply is not None
    by_lender = Supply("voice", 0, 1, supply.valid_from, FOREVER, 2, (0,))
    assert decide(by_lender, AT, parties, terms).reason == "unconfirmed"
