"""The ledger's rules as pure functions: the day, the window, limits and agreements, and
what makes a reported call readable (API.md §12; guideline Articles 9, 15(二), 16(三)1)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

import msgspec

from registry.errors import FieldError, Invalid
from registry.ledger.debtors import UnreadableNumber, e164
from registry.ledger.model import CallReport, Hours
from registry.trace.decision import TZ_NAME, Window

DAILY_LIMIT = 3  # connected calls a day, lender and all its agencies together
EFFECTIVE_SECONDS = 6
DEFAULT_HOURS = Hours("08:00", "22:00")
# A carrier's clock may run a little ahead of ours; more than this is a typing error.
FUTURE_SKEW_S = 300
MAX_ERRORS = 100
CHANNELS = frozenset({"voice", "sms"})
_EPOCH_DAY = date(1970, 1, 1)
# A mainland mobile number already in E.164, as phone.e164 would return it.
_MAINLAND_MOBILE = re.compile(r"\+861[3-9][0-9]{9}").fullmatch


class Terms(msgspec.Struct, frozen=True):
    """What binds one principal for one debtor: its limit and hours, agreed or default."""

    limit: int = DAILY_LIMIT
    hours: Hours = DEFAULT_HOURS
    agreed: bool = False


DEFAULT_TERMS = Terms()


def day_of(at: int) -> date:
    """The Asia/Shanghai calendar day of an epoch second (UTC+8, no daylight saving)."""
    return _EPOCH_DAY + timedelta(days=(at + 8 * 3600) // 86400)


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def in_hours(at: int, hours: Hours) -> bool:
    """Whether `at` falls in [start, end) Shanghai time; an agreed span may pass midnight."""
    local = ((at + 8 * 3600) % 86400) // 60
    start, end = _minutes(hours.start), _minutes(hours.end)
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def window_of(at: int, hours: Hours = DEFAULT_HOURS) -> Window:
    return Window(TZ_NAME, hours.start, hours.end, in_hours(at, hours))


def connected(channel: str, duration_s: int) -> bool:
    return channel == "voice" and duration_s > 0


def effective(channel: str, duration_s: int) -> bool:
    return channel == "voice" and duration_s >= EFFECTIVE_SECONDS


def allowed(terms: Terms, connected_today: int, at: int) -> bool:
    return connected_today < terms.limit and in_hours(at, terms.hours)


def terms_of(daily_limit: int | None, hours_start: str | None, hours_end: str | None) -> Terms:
    """An agreement's terms: what it leaves unsaid stays as the guideline has it."""
    hours = Hours(hours_start, hours_end) if hours_start and hours_end else DEFAULT_HOURS
    return Terms(DAILY_LIMIT if daily_limit is None else daily_limit, hours, True)


class ReadCall(msgspec.Struct, frozen=True, array_like=True):
    """A reported call once read: callee in E.164, started_at in whole epoch seconds."""

    caller: str
    callee: str
    started_at: int
    duration_s: int
    channel: str


def read_calls(items: Sequence[CallReport], now: int) -> list[ReadCall]:
    """Every item read, or Invalid naming each bad item's index and field (never its value)."""
    errors: list[FieldError] = []
    calls: list[ReadCall] = []

    def bad(i: int, field: str, message: str) -> None:
        errors.append(FieldError(f"items[{i}].{field}", message))

    latest = now + FUTURE_SKEW_S
    for i, item in enumerate(items):
        if len(errors) >= MAX_ERRORS:
            break
        ok = True
        callee = item.callee
        if not _MAINLAND_MOBILE(callee):  # the common case needs no normalising
            try:
                callee = e164(callee)
            except UnreadableNumber as exc:
                bad(i, "callee", str(exc))
                ok = False
        if not item.caller.strip():
            bad(i, "caller", "not a phone number or SMS code")
            ok = False
        if item.channel not in CHANNELS:
            bad(i, "channel", "one of voice, sms")
            ok = False
        if item.duration_s < 0:
            bad(i, "duration_s", "a duration cannot be negative")
            ok = False
        elif item.duration_s > 86400:
            bad(i, "duration_s", "at most 86400 seconds")
            ok = False
        started = item.started_at
        if started.tzinfo is None:
            bad(i, "started_at", "a time needs its UTC offset")
            ok = False
        else:
            at = int(started.timestamp())
            if at > latest:
                bad(i, "started_at", f"more than {FUTURE_SKEW_S} s in the future")
                ok = False
            elif at < 0:
                bad(i, "started_at", "before 1970")
                ok = False
        if ok:
            calls.append(ReadCall(item.caller, callee, at, item.duration_s, item.channel))
    if errors:
        raise Invalid(errors, f"{len(errors)} items are not readable calls"
                      + (" (the first shown)" if len(errors) >= MAX_ERRORS else ""))
    return calls

