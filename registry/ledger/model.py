"""The contact ledger's requests, answers and change-log payloads (API.md §12).

The payloads (`ContactReport`, `AgreementRecord`) are the federation contract: a peer
applies them as they are logged. Debtors appear in them only as keyed hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from registry.trace.decision import Window

MAX_ITEMS = 10_000
Channel = Literal["voice", "sms"]
Number = Annotated[str, msgspec.Meta(max_length=64)]
HourMinute = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


# ---- requests ------------------------------------------------------------------------

class CallReport(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    caller: Number
    callee: Number
    started_at: datetime
    duration_s: int
    # Checked by the ledger rather than by the decoder, so the error names the item.
    channel: str = "voice"


class ContactBatch(msgspec.Struct, forbid_unknown_fields=True):
    items: list[CallReport]


class AllowanceRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    caller: Number
    callee: Number
    at: datetime | None = None


class Hours(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    start: HourMinute
    end: HourMinute


class AgreementCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    callee: Number
    valid_to: datetime
    daily_limit: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    hours: Hours | None = None


# ---- answers -------------------------------------------------------------------------

class ContactResult(msgspec.Struct, frozen=True):
    principals: list[str]
    traceable: bool
    over_limit: bool
    outside_window: bool
    # Added to API.md §12: a call the ledger already held is answered but not counted.
    duplicate: bool = False


class ContactResults(msgspec.Struct):
    results: list[ContactResult]
    # Added to API.md §12: the report as the change log names it (None: nothing was new).
    report_id: str | None = None


class PrincipalAllowance(msgspec.Struct, frozen=True):
    id: str
    connected_today: int
    effective_today: int
    limit: int
    agreed: bool
    allowed: bool
    sms_today: int = 0
    window_open: bool = True


class Allowance(msgspec.Struct):
    allowed: bool
    traceable: bool
    reason: str | None
    window: Window
    principals: list[PrincipalAllowance]


class ContactSummary(msgspec.Struct, frozen=True):
    """`contact` in a trace answer asked with `?callee=` (API.md §12): the binding principal."""

    connected_today: int
    limit: int
    allowed: bool


class Agreement(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    lender_id: str
    daily_limit: int | None
    hours: Hours | None
    valid_to: datetime
    created_at: datetime


# ---- change-log payloads -------------------------------------------------------------

class LoggedCall(msgspec.Struct, frozen=True):
    """One call as the ledger holds it (the debtor as a hex keyed hash, times in epoch s)."""

    caller: str
    callee_hash: str
    hash_version: int
    started_at: int
    duration_s: int
    channel: str
    principals: tuple[str, ...]


class ContactReport(msgspec.Struct, frozen=True, kw_only=True):
    """A batch of calls new to the reporting node, as one change-log entry: a column per
    field (call i is the i-th of each), so that ten thousand calls log as a few lists of
    plain values. `started_at` is epoch seconds; `principals[i]` indexes `principal_sets`,
    the distinct sets of principals (space-separated ids) the calls were attributed to."""

    reporter_id: str
    hash_version: int
    callers: list[str]
    callee_hashes: list[str]
    started_at: list[int]
    durations: list[int]
    channels: list[str]
    principals: list[int]
    principal_sets: list[str]

    @classmethod
    def of(cls, reporter_id: str, calls: list[LoggedCall]) -> ContactReport:
        sets: dict[tuple[str, ...], int] = {}
        indexes = [sets.setdefault(c.principals, len(sets)) for c in calls]
        return cls(reporter_id=reporter_id,
                   hash_version=calls[0].hash_version if calls else 0,
                   callers=[c.caller for c in calls],
                   callee_hashes=[c.callee_hash for c in calls],
                   started_at=[c.started_at for c in calls],
                   durations=[c.duration_s for c in calls],
                   channels=[c.channel for c in calls],
                   principals=indexes, principal_sets=[" ".join(p) for p in sets])

    def calls(self) -> list[LoggedCall]:
        sets = [tuple(s.split()) for s in self.principal_sets]
        return [LoggedCall(caller, callee, self.hash_version, at, duration, channel,
                           sets[principals])
                for caller, callee, at, duration, channel, principals in zip(
                    self.callers, self.callee_hashes, self.started_at, self.durations,
                    self.channels, self.principals, strict=True)]


class AgreementRecord(msgspec.Struct, frozen=True, kw_only=True):
    lender_id: str
    callee_hash: str
    hash_version: int
    daily_limit: int | None
    hours: Hours | None
    valid_to: str
    created_at: str
