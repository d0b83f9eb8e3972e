"""Each worker's ledger in memory: the recent days' counts per debtor, day and principal,
and every agreement, applied from the change log by the trace index's feed (of every
origin), so that an allowance reads no table and any worker sees what any other took in.

Only the days from the day before the worker started are held (`since` on): a call can be
reported no earlier than five minutes before it starts, so reports logged before that
cannot hold such calls and are skipped unread. Older days are asked of PostgreSQL.
A peer's report counts here only for the calls that were new to this node when it was
applied (`contact_reports.positions`); the node's own reports log only new calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from registry.ledger import rules
from registry.ledger.counting import day_start
from registry.ledger.model import AgreementRecord, ContactReport
from registry.ledger.store import AGREEMENT, REPORT, DayCounts
from registry.trace.decision import epoch

TYPES = frozenset({REPORT, AGREEMENT})
# A count packs connected, effective and SMS into one int, 21 bits each.
_EFFECTIVE = 1 << 21
_SMS = 1 << 42
_FIELD = _EFFECTIVE - 1
_report = msgspec.json.Decoder(ContactReport)
_agreement = msgspec.json.Decoder(AgreementRecord)


class _Held(msgspec.Struct, frozen=True):
    id: str
    lender_id: str
    terms: rules.Terms
    valid_to: int


class DebtorDays:
    """Per Shanghai day, a Bloom filter of the debtors (keyed hashes) called that day.
    "Not called" is certain, so PostgreSQL need not be asked; "called" may be a false
    positive, and then it is asked. A fixed 4 MiB a day, whatever the traffic: under
    0.1 % false positives at a million debtors a day, about 20 % at ten million."""

    BITS = 1 << 25
    _MASK = BITS - 1
    HASHES = 3

    def __init__(self) -> None:
        self._days: dict[int, bytearray] = {}

    @classmethod
    def _positions(cls, debtor: bytes) -> list[int]:
        # The debtor hash is an HMAC, already uniform: its two halves seed double hashing.
        a = int.from_bytes(debtor[:8], "little")
        b = int.from_bytes(debtor[8:16], "little") | 1
        return [(a + i * b) & cls._MASK for i in range(cls.HASHES)]

    def add(self, debtor: bytes, day: int) -> None:
        bits = self._days.get(day)
        if bits is None:
            bits = self._days[day] = bytearray(self.BITS // 8)
        for p in self._positions(debtor):
            bits[p >> 3] |= 1 << (p & 7)

    def may_hold(self, debtor: bytes, day: int) -> bool:
        bits = self._days.get(day)
        return bits is not None and all(
            bits[p >> 3] >> (p & 7) & 1 for p in self._positions(debtor))

    def forget_before(self, first_day: int) -> None:
        self._days = {d: bits for d, bits in self._days.items() if d >= first_day}


def _day_number(at: int) -> int:
    return (at + 8 * 3600) // 86400


class LedgerMemory:
    def __init__(self, now: int) -> None:
        # Counts are whole for every day starting at or after this second.
        self.since = day_start(now) - 86400
        self._principal_of: dict[str, int] = {}
        # debtor hash (16 bytes) + day number (3 bytes) + principal (4 bytes) -> packed count
        self._counts: dict[bytes, int] = {}
        # Every debtor-day holding a call, counted or not: a report's debtor-day not among
        # them holds no call yet, and PostgreSQL need not be asked.
        self._held_days = DebtorDays()
        self._agreements: dict[bytes, list[_Held]] = {}
        self._agreement_debtor: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._counts)

    @property
    def logged_since(self) -> int:
        """Reports logged before this second hold no call of a day held here."""
        return self.since - 600

    def covers(self, at: int) -> bool:
        return day_start(at) >= self.since

    def _principal(self, principal_id: str) -> int:
        index = self._principal_of.get(principal_id)
        if index is None:
            index = self._principal_of[principal_id] = len(self._principal_of)
        return index

    def holds_none(self, debtor: bytes, at: int) -> bool:
        """Whether the ledger surely holds no call to `debtor` on the Shanghai day of `at`
        (as of the last entry applied); False when that day is not held here."""
        return day_start(at) >= self.since and not self._held_days.may_hold(
            debtor, _day_number(at))

    def _key(self, debtor: bytes, day: int, principal: int) -> bytes:
        return debtor + day.to_bytes(3, "little") + principal.to_bytes(4, "little")

    def apply(self, type: str, record_id: str, data: str | None,
              counted: Sequence[int] | None) -> None:
        """Apply one logged report or agreement (`counted`: a peer report's new calls)."""
        if type == AGREEMENT:
            self._apply_agreement(record_id, data)
        elif data is not None:
            self._apply_report(_report.decode(data), counted)

    def _apply_report(self, report: ContactReport, counted: Sequence[int] | None) -> None:
        counts, since = self._counts, self.since
        started, durations, channels = report.started_at, report.durations, report.channels
        sets = [[self._principal(p) for p in s.split()] for s in report.principal_sets]
        held_days = self._held_days
        for i in range(len(started)) if counted is None else counted:
            at = started[i]
            if at < since:
                continue
            debtor = bytes.fromhex(report.callee_hashes[i])
            day = _day_number(at)
            held_days.add(debtor, day)
            principals = sets[report.principals[i]]
            channel, duration = channels[i], durations[i]
            add = (channel == "voice" and duration > 0) + (
                _EFFECTIVE if channel == "voice" and duration >= rules.EFFECTIVE_SECONDS
                else 0) + (_SMS if channel == "sms" else 0)
            if not add or not principals:
                continue
            for principal in principals:
                key = self._key(debtor, day, principal)
                counts[key] = counts.get(key, 0) + add

    def _apply_agreement(self, agreement_id: str, data: str | None) -> None:
        debtor = self._agreement_debtor.pop(agreement_id, None)
        if debtor is not None:
            self._agreements[debtor] = [a for a in self._agreements[debtor]
                                        if a.id != agreement_id]
        if data is None:
            return
        record = _agreement.decode(data)
        debtor = bytes.fromhex(record.callee_hash)
        hours = record.hours
        held = _Held(agreement_id, record.lender_id, rules.terms_of(
            record.daily_limit, hours.start if hours else None, hours.end if hours else None),
            epoch(record.valid_to, 0))
        self._agreements.setdefault(debtor, []).append(held)
        self._agreement_debtor[agreement_id] = debtor

    def standing(self, hashes: Sequence[bytes], principals: Sequence[str], at: int
                 ) -> tuple[dict[str, DayCounts], dict[str, rules.Terms]]:
        """As registry.ledger.store.standing answers it, for a day held here."""
        day = _day_number(at)
        counts: dict[str, DayCounts] = {}
        terms: dict[str, rules.Terms] = {}
        for principal_id in principals:
            index = self._principal_of.get(principal_id)
            packed = 0
            if index is not None:
                for debtor in hashes:
                    packed += self._counts.get(self._key(debtor, day, index), 0)
            if packed:
                counts[principal_id] = DayCounts(packed & _FIELD, packed >> 21 & _FIELD,
                                              packed >> 42)
        for debtor in hashes:
            for held in self._agreements.get(debtor, ()):  # oldest first: the latest wins
                if held.lender_id in principals and held.valid_to > at:
                    terms[held.lender_id] = held.terms
        return counts, terms

    def forget_before(self, now: int) -> None:
        """Drop days before yesterday (Shanghai): PostgreSQL answers for them."""
        since = day_start(now) - 86400
        if since <= self.since:
            return
        self.since = since
        first = _day_number(since)
        self._counts = {k: v for k, v in self._counts.items()
                        if int.from_bytes(k[16:19], "little") >= first}
        self._held_days.forget_before(first)
