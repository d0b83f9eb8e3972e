"""The trace index: every worker's (and a carrier mirror's) view of what a trace decision
needs, kept current by applying change-log entries of any origin.

Entries of different origins may arrive in any order (a confirmation made on a finance
node before the telecom node's supply has synced), so every apply commutes: references to
records not yet seen allocate placeholders, and confirmations or filings of a resource not
yet seen wait for it. Numbers are stored compactly: a voice number is an int key mapping to
its slot and state packed in one int (a lookup then reads no other table); a slot holds an
8-byte hash of its resource id and the index of a shared, interned decision state
(resources supplied together share one).

An index may stand on a `Base` (registry/trace/base.py), the frozen index of a snapshot
that every worker of a node maps from one file (registry/trace/snapshot.py). The base is
read, never written: what entries applied after it change lives in this index's own dicts
(the overlay), and lookups read the overlay first. `TraceIndex()` stands on an empty base.

A carrier's mirror uses it as the node's workers do: apply every verified change-log
entry, `index.apply(origin, seq, type, id, data)`, then answer with
`Answers(index, node_id).trace(values, at)` or decide one number with `index.check`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

import msgspec

from registry import phone
from registry.resources.model import CONFIRMATION, FILING, RESOURCE
from registry.trace.base import MAX_KEYED, Base, Small, freeze
from registry.trace.decision import (
    FOREVER,
    NOBODY,
    Party,
    Supply,
    Term,
    Verdict,
    day_start,
    decide,
    epoch,
)
from registry.trace.keys import Keys
from registry.trace.slots import Slots

MEMBER = "member"
ENTRUSTMENT = "entrustment"
# The record types the index reads (registry/record_types.py declares them `trace=True`).
TYPES = (MEMBER, RESOURCE, CONFIRMATION, FILING, ENTRUSTMENT)
_WITHDRAWN = 0  # state index of a resource whose record was deleted
# A voice number's entry is `slot << _SLOT_SHIFT | state`.
_SLOT_SHIFT = 32
_STATE_MASK = (1 << _SLOT_SHIFT) - 1
_UNKNOWN = object()  # no reason memoised yet for a state
NOT_REGISTERED = _STATE_MASK  # never a state's index


# Supplies made together log the same times: parse each once.
_epoch = lru_cache(maxsize=4096)(epoch)
_day_start = lru_cache(maxsize=4096)(day_start)


def rid_hash(resource_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(resource_id.encode(), digest_size=8).digest(), "little")


def _resource_of(record_id: str) -> str:
    """The resource id inside a confirmation's or filing's id (`rc:<resource>:<other>`)."""
    return record_id.split(":")[1] if record_id.count(":") == 2 else ""


# E.164 input as find_all() and registered_states() take it whole: `+` and 1 to 18 digits.
_ALL_E164 = re.compile(r"\+[0-9]{1,18}(?:\n\+[0-9]{1,18})*")


def _is_e164(text: str) -> bool:
    return text[:1] == "+" and text.isascii() and text[1:].isdigit() and len(text) < 20


# What a traced value matched: (value as read, kind or None, state index, block or None);
# state index 0 means nothing matched.
Found = tuple[str, str | None, int, str | None]


class TraceIndex:
    def __init__(self, base: Base | None = None) -> None:
        base = Base() if base is None else base
        small = base.small
        self.base = base
        self.parties: list[Party] = list(small.parties)
        self._party_of = {party.id: index for index, party in enumerate(self.parties)}
        self.terms: list[Term] = list(small.terms)
        self._term_of = {term.id: index for index, term in enumerate(self.terms)}
        # Interned decision states; index 0 stands for a withdrawn resource.
        self.states: list[Supply | None] = list(small.states)
        self._state_of = {s: index for index, s in enumerate(self.states) if s is not None}
        # Voice number (E.164 digits as int) -> slot << _SLOT_SHIFT | state: entries
        # changed since the base (and any the base could not hold); blocks and codes.
        self._keys = Keys(base)
        self._numbers, self._entry = self._keys.numbers, self._keys.entry
        self._block_lengths: list[int] = list(small.block_lengths)  # longest first
        self._slots = Slots(base)
        self._pending_confirmations = dict(small.pending_confirmations)
        self._pending_filings = dict(small.pending_filings)
        # Per origin, the last change-log seq applied.
        self.seqs: dict[str, int] = dict(small.seqs)
        # Counts applied entries: what is derived from the index is valid for one version.
        self.version = small.version
        # Verdicts by state for one moment; any applied change clears them.
        self._verdicts: dict[int, Verdict] = {}
        self._reasons: dict[int, str | None] = {}  # the verdicts' reasons, for check()
        self._verdict_at = -1
        # The fast path for an E.164 number: the reason it is not traceable, or None.
        self.check = self.checker()
        self._appliers: dict[str, Callable[[str, dict[str, Any] | None], None]] = {
            MEMBER: self._apply_member, RESOURCE: self._apply_resource,
            CONFIRMATION: self._apply_confirmation, FILING: self._apply_filing,
            ENTRUSTMENT: self._apply_entrustment,
        }

    # ---- applying change-log entries -------------------------------------------------

    def apply(self, origin: str, seq: int, type: str, record_id: str,
              data: dict[str, Any] | None) -> None:
        """Apply one entry; entries of an origin already applied are skipped."""
        if seq <= self.seqs.get(origin, 0):
            return
        self.version += 1
        applier = self._appliers.get(type)
        if applier is not None:
            applier(record_id, data)
            if self._verdicts:
                self._verdicts.clear()
                self._reasons.clear()
        self.seqs[origin] = seq

    def apply_all(self, entries: Iterable[tuple[str, int, str, str, dict[str, Any] | None]]
                  ) -> None:
        for origin, seq, type, record_id, data in entries:
            self.apply(origin, seq, type, record_id, data)

    def party(self, member_id: str) -> int:
        index = self._party_of.get(member_id)
        if index is None:
            index = self._party_of[member_id] = len(self.parties)
            self.parties.append(Party(member_id))
        return index

    def term(self, entrustment_id: str) -> int:
        index = self._term_of.get(entrustment_id)
        if index is None:
            index = self._term_of[entrustment_id] = len(self.terms)
            self.terms.append(Term(entrustment_id))
        return index

    def _intern(self, supply: Supply) -> int:
        index = self._state_of.get(supply)
        if index is None:
            index = self._state_of[supply] = len(self.states)
            self.states.append(supply)
        return index

    def _apply_member(self, member_id: str, data: dict[str, Any] | None) -> None:
        index = self.party(member_id)
        if data is None:
            self.parties[index] = Party(member_id)
            return
        self.parties[index] = Party(member_id, data["kind"], data["name"], data["uscc"],
                                    data["status"] == "active")

    def _apply_entrustment(self, entrustment_id: str, data: dict[str, Any] | None) -> None:
        index = self.term(entrustment_id)
        if data is None:
            self.terms[index] = Term(entrustment_id)
            return
        end = _day_start(data["ends_on"], next_day=True)
        if data.get("ended_at"):
            end = min(end, epoch(data["ended_at"], FOREVER))
        parent = data.get("parent_id")
        self.terms[index] = Term(
            entrustment_id, self.party(data["lender_id"]), self.party(data["agency_id"]),
            _day_start(data["starts_on"]), end, self.term(parent) if parent else NOBODY,
        )

    @staticmethod
    def _key(kind: str, value: str) -> int | str:
        if kind == "voice":
            return int(value)
        return value[1:] if kind == "voice_block" else value

    def _slot_in(self, kind: str, key: int | str) -> int | None:
        if kind != "voice":
            return self._keys.text_slot(kind, key)  # type: ignore[arg-type]
        entry = self._entry(key)  # type: ignore[arg-type]
        return None if entry < 0 else entry >> _SLOT_SHIFT

    def _set_state(self, slot: int, state: int) -> None:
        """The one place a slot's state changes: the slot, and a number's packed entry."""
        self._slots.set_state(slot, state)
        number = self._slots.number(slot)
        if number:
            self._numbers[number] = slot << _SLOT_SHIFT | state

    def _slot_of(self, kind: str, value: str, resource_id: str) -> int | None:
        """The slot holding this very resource (not merely another supply of its value)."""
        slot = self._slot_in(kind, self._key(kind, value))
        if slot is None or self._slots.rid(slot) != rid_hash(resource_id):
            return None
        return slot

    def _apply_resource(self, resource_id: str, data: dict[str, Any] | None) -> None:
        slots = self._slots
        if data is None:
            slot = slots.find(rid_hash(resource_id))
            if slot is not None:
                self._set_state(slot, _WITHDRAWN)
            return
        kind, value = data["kind"], data["value"]
        digest = rid_hash(resource_id)
        key = self._key(kind, value)
        supply = Supply(
            kind, self.party(data["supplier_id"]), self.party(data["assignee_id"]),
            _epoch(data["valid_from"], 0), _epoch(data.get("valid_to"), FOREVER),
        )
        slot = self._slot_in(kind, key)
        if slot is not None and slots.rid(slot) == digest:
            old = self.states[slots.state(slot)]
            if old is not None:
                supply = Supply(supply.kind, supply.supplier, supply.user, supply.valid_from,
                                supply.valid_to, old.confirmed_by, old.filings)
            self._set_state(slot, self._intern(supply))
            return
        if slot is not None:
            current = self.states[slots.state(slot)]
            # Two supplies of one value (a later one after the first expired): the later wins.
            if current is not None and current.valid_from > supply.valid_from:
                return
        supply = Supply(supply.kind, supply.supplier, supply.user, supply.valid_from,
                        supply.valid_to, self._pending_confirmations.pop(digest, NOBODY),
                        self._pending_filings.pop(digest, ()))
        if slot is None:
            slot = slots.add(digest, key if kind == "voice" else 0)  # type: ignore[arg-type]
            if kind != "voice":
                self._keys.add_text(kind, key, slot)  # type: ignore[arg-type]
        else:
            slots.set_rid(slot, digest)
        self._set_state(slot, self._intern(supply))
        if kind == "voice_block" and len(key) not in self._block_lengths:  # type: ignore[arg-type]
            self._block_lengths = sorted({*self._block_lengths, len(key)}, reverse=True)  # type: ignore[arg-type]

    def _change(self, slot: int, **fields: Any) -> None:
        old = self.states[self._slots.state(slot)]
        if old is not None:
            self._set_state(slot, self._intern(msgspec.structs.replace(old, **fields)))

    def _apply_confirmation(self, record_id: str, data: dict[str, Any] | None) -> None:
        if data is None:
            slot = self._slots.find(rid_hash(_resource_of(record_id)))
            if slot is not None:
                self._change(slot, confirmed_by=NOBODY)
            self._pending_confirmations.pop(rid_hash(_resource_of(record_id)), None)
            return
        member = self.party(data["member_id"])
        slot = self._slot_of(data["kind"], data["value"], data["resource_id"])
        if slot is None:
            self._pending_confirmations[rid_hash(data["resource_id"])] = member
        else:
            self._change(slot, confirmed_by=member)

    def _apply_filing(self, record_id: str, data: dict[str, Any] | None) -> None:
        if data is None:
            parts = record_id.split(":")
            if len(parts) != 3:
                return
            term = self.term(parts[2])
            slot = self._slots.find(rid_hash(parts[1]))
            if slot is not None:
                old = self.states[self._slots.state(slot)]
                if old is not None:
                    self._change(slot, filings=tuple(t for t in old.filings if t != term))
            return
        term = self.term(data["entrustment_id"])
        slot = self._slot_of(data["kind"], data["value"], data["resource_id"])
        if slot is None:
            digest = rid_hash(data["resource_id"])
            waiting = self._pending_filings.get(digest, ())
            self._pending_filings[digest] = tuple(sorted({*waiting, term}))
            return
        old = self.states[self._slots.state(slot)]
        if old is not None and term not in old.filings:
            self._change(slot, filings=tuple(sorted({*old.filings, term})))

    def freeze(self) -> Base:
        """This index as a new base: what a snapshot of it holds (registry/trace/snapshot.py)."""
        small = Small(dict(self.seqs), self.version, list(self.parties), list(self.terms),
                      list(self.states), dict(self._pending_confirmations),
                      dict(self._pending_filings), list(self._block_lengths))
        keys = self._keys
        return freeze(small, self.base, self._numbers, (keys.block_keys, keys.loose_blocks),
                      (keys.code_keys, keys.loose_codes),
                      self._slots.frozen())

    # ---- looking up ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slots)

    def find(self, text: str) -> Found:
        """Read `text` as an SMS code or a voice number and find what it matches."""
        if len(text) > phone.MAX_INPUT:
            return (text, None, _WITHDRAWN, None)
        if text[:1] == "+" and text[1:].isdigit() and text.isascii():
            return self._voice(text)
        if text.isdigit() and text.isascii():
            slot = self._keys.text_slot("sms_code", text)
            if slot is not None:
                return (text, "sms_code", self._slots.state(slot), None)
        try:
            number = phone.e164(text, strict=False)
        except phone.NotANumber:
            if text.isdigit() and text.isascii():
                return (text, "sms_code", _WITHDRAWN, None)
            return (text, None, _WITHDRAWN, None)
        return self._voice(number)

    def find_all(self, texts: Iterable[str]) -> list[Found]:
        """find() for many values, with E.164 input that is registered decided inline."""
        entry_of, find = self._entry, self.find
        found: list[Found] = []
        for text in texts:
            if _is_e164(text):
                entry = entry_of(int(text))
                if entry >= 0:
                    found.append((text, "voice", entry & _STATE_MASK, None))
                    continue
            found.append(find(text))
        return found

    def registered_states(self, texts: Sequence[str]) -> list[int]:
        """Per text, the state of the number it registers when it is E.164 input of a number
        with an entry of its own, else NOT_REGISTERED (find() then says what it is)."""
        entry, mask = self._entry, _STATE_MASK
        joined = "\n".join(texts)
        if joined.count("\n") == len(texts) - 1 and _ALL_E164.fullmatch(joined):
            # Every text is E.164 input (one scan in C, not four tests per text).
            return [entry(int(t)) & mask for t in texts]
        return [entry(int(t)) & mask if _is_e164(t) else mask for t in texts]

    def _voice(self, number: str) -> Found:
        entry = self._entry(int(number))
        if entry >= 0:
            return (number, "voice", entry & _STATE_MASK, None)
        digits = number[1:]
        keyed = digits.isdigit() and digits.isascii()  # as E.164 numbers always are
        block, state_of = self._keys.block_slot, self._slots.state
        for length in self._block_lengths:
            if length <= len(digits):
                prefix = digits[:length]
                if keyed and length <= MAX_KEYED:  # text_key(prefix), inlined: the hot path
                    slot = block(int(prefix) << 5 | length)
                else:
                    found = self._keys.text_slot("voice_block", prefix)
                    slot = -1 if found is None else found
                if slot >= 0 and (state := state_of(slot)) != _WITHDRAWN:
                    return (number, "voice", state, "+" + prefix)
        return (number, "voice", _WITHDRAWN, None)

    def verdict(self, state: int, at: int) -> Verdict:
        """The decision for a state at `at`; memoised, since resources share states."""
        if at != self._verdict_at:
            self._verdicts.clear()
            self._reasons.clear()
            self._verdict_at = at
        verdict = self._verdicts.get(state)
        if verdict is None:
            verdict = self._verdicts[state] = (
                decide(self.states[state], at, self.parties, self.terms))
            self._reasons[state] = verdict.reason
        return verdict

    def tally(self, at: int) -> dict[str | None, int]:
        """How many resources trace at `at` (key None) and how many fail at each first link."""
        counts: dict[str | None, int] = {}
        for state, n in self._slots.state_counts().items():
            if n and self.states[state] is not None:  # not withdrawn
                reason = self.verdict(state, at).reason
                counts[reason] = counts.get(reason, 0) + n
        return counts

    def checker(self) -> Callable[[str, int], str | None]:
        """check() as a closure over the index's tables, for a mirror's hot loop: one probe
        for a registered number, then the reason memoised for its state and moment."""
        verdict, voice = self.verdict, self._voice
        index = self

        # Tables and constants are bound as defaults: locals are the cheapest names to read.
        def check(number: str, at: int, entry: Callable[[int], int] = self._entry,
                  reason_of: Callable[[int, object], object] = self._reasons.get,
                  mask: int = _STATE_MASK, unknown: object = _UNKNOWN) -> str | None:
            state = entry(int(number))
            state = voice(number)[2] if state < 0 else state & mask
            if at == index._verdict_at:
                reason = reason_of(state, unknown)
                if reason is not unknown:
                    return reason  # type: ignore[return-value]
            return verdict(state, at).reason

        return check
