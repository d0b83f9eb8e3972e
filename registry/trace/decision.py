"""The trace decision (DESIGN.md "The trace decision"): one pure function, used alike by
the node's workers and by a carrier's mirror, so that the two cannot disagree.

It sees plain records: parties (members) and terms (entrustments) in tables addressed by
small integers, and the supply state of one resource. Times are integer epoch seconds.
The links are checked in the order API.md §6 gives, and the first that fails is the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec

REASONS = ("unregistered", "expired", "supplier_inactive", "unconfirmed", "user_inactive",
           "no_principal")
PRINCIPAL_KINDS = frozenset({"lender", "debt_buyer"})
NOBODY = -1
FOREVER = 2**62
TZ_NAME = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ_NAME)
WINDOW_START = time(8, 0)
WINDOW_END = time(22, 0)


class Party(msgspec.Struct, frozen=True):
    """A member as the decision sees it. A party known only by reference is not active."""

    id: str
    kind: str = ""
    name: str = ""
    uscc: str = ""
    active: bool = False


class Term(msgspec.Struct, frozen=True):
    """An entrustment's reach: `lender` entrusts `agency` from `start` until before `end`.

    `end` is already the earlier of the day after `ends_on` (Asia/Shanghai) and the moment
    the lender ended it. `parent` is the term a subcontract hangs under, or NOBODY.
    """

    id: str
    lender: int = NOBODY
    agency: int = NOBODY
    start: int = FOREVER
    end: int = 0
    parent: int = NOBODY


class Supply(msgspec.Struct, frozen=True):
    """What a resource needs for a decision; equal states are shared between resources.

    `confirmed_by` is the party that confirmed use of it (counts only when it is the user);
    `filings` are the terms under which a lender has filed it.
    """

    kind: str
    supplier: int
    user: int
    valid_from: int
    valid_to: int = FOREVER
    confirmed_by: int = NOBODY
    filings: tuple[int, ...] = ()


class Verdict(msgspec.Struct, frozen=True):
    reason: str | None
    principals: tuple[int, ...] = ()


UNREGISTERED = Verdict("unregistered")
EXPIRED = Verdict("expired")
SUPPLIER_INACTIVE = Verdict("supplier_inactive")
UNCONFIRMED = Verdict("unconfirmed")
USER_INACTIVE = Verdict("user_inactive")
NO_PRINCIPAL = Verdict("no_principal")


def term_current(terms: Sequence[Term], index: int, at: int) -> bool:
    term = terms[index]
    if not term.start <= at < term.end:
        return False
    if term.parent == NOBODY:
        return True
    # A subcontract reaches no further than the entrustment it hangs under.
    parent = terms[term.parent]
    return parent.parent == NOBODY and parent.start <= at < parent.end


def principals_of(
    supply: Supply, at: int, parties: Sequence[Party], terms: Sequence[Term]
) -> tuple[int, ...]:
    user = parties[supply.user]
    if user.kind in PRINCIPAL_KINDS:
        return (supply.user,)
    found: list[int] = []
    for index in supply.filings:
        term = terms[index]
        if term.agency != supply.user or not term_current(terms, index, at):
            continue
        lender = parties[term.lender] if term.lender != NOBODY else None
        if (lender is not None and lender.active and lender.kind in PRINCIPAL_KINDS
                and term.lender not in found):
            found.append(term.lender)
    return tuple(found)


def decide(
    supply: Supply | None, at: int, parties: Sequence[Party], terms: Sequence[Term]
) -> Verdict:
    """The first link that fails, in API.md §6 order, or None with the principals."""
    if supply is None:
        return UNREGISTERED
    if not supply.valid_from <= at < supply.valid_to:
        return EXPIRED
    if not parties[supply.supplier].active:
        return SUPPLIER_INACTIVE
    if supply.confirmed_by != supply.user:
        return UNCONFIRMED
    if not parties[supply.user].active:
        return USER_INACTIVE
    principals = principals_of(supply, at, parties, terms)
    if not principals:
        return NO_PRINCIPAL
    return Verdict(None, principals)


class Window(msgspec.Struct, frozen=True):
    tz: str
    start: str
    end: str
    open: bool


def window(at: int) -> Window:
    """Whether `at` falls in the 08:00–22:00 Asia/Shanghai calling window (Art. 9, 15, 16)."""
    local = datetime.fromtimestamp(at, SHANGHAI).time()
    return Window(TZ_NAME, "08:00", "22:00", WINDOW_START <= local < WINDOW_END)


def day_start(day: str | datetime, *, next_day: bool = False) -> int:
    """Epoch seconds of 00:00 Asia/Shanghai on a `YYYY-MM-DD` day (or the day after it)."""
    parsed = date.fromisoformat(day) if isinstance(day, str) else day.date()
    if next_day:
        parsed += timedelta(days=1)
    return int(datetime.combine(parsed, time(0), SHANGHAI).timestamp())


def epoch(value: str | datetime | None, default: int) -> int:
    """Epoch seconds of an RFC 3339 time (as logged) or of an aware datetime."""
    if value is None:
        return default
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
