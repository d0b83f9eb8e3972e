"""What a trace-index snapshot holds: the index as of per-origin seqs, frozen. The big
parts are flat uint64/uint32 arrays (read in place from a mapped file, shared by every
worker of a node); the small tables (members, entrustments, interned decision states,
what waits for a resource not yet seen) are decoded into each worker.

A TraceIndex over a Base reads the base's arrays and keeps what entries applied after it
changed in its own dicts (registry/trace/index.py); the base itself is never written.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from registry.trace import table
from registry.trace.decision import Party, Supply, Term


class Small(msgspec.Struct, array_like=True):
    """The small tables, copied into each worker (msgpack in a snapshot)."""

    seqs: dict[str, int] = msgspec.field(default_factory=dict)
    version: int = 0
    parties: list[Party] = msgspec.field(default_factory=list)
    terms: list[Term] = msgspec.field(default_factory=list)
    # Index 0 stands for a withdrawn resource.
    states: list[Supply | None] = msgspec.field(default_factory=lambda: [None])
    pending_confirmations: dict[int, int] = msgspec.field(default_factory=dict)
    pending_filings: dict[int, tuple[int, ...]] = msgspec.field(default_factory=dict)
    block_lengths: list[int] = msgspec.field(default_factory=list)
    # Keys no uint64 holds (values no validation of this node has seen, from a peer):
    # kept here, and in a worker's own dicts, never in the tables.
    loose_numbers: dict[int, int] = msgspec.field(default_factory=dict)
    loose_blocks: dict[str, int] = msgspec.field(default_factory=dict)
    loose_codes: dict[str, int] = msgspec.field(default_factory=dict)


@dataclass
class Table:
    """An open-addressing table (registry/trace/table.py) and how many keys it holds."""

    cells: Sequence[int]
    capacity: int
    count: int

    def get(self, key: int) -> int:
        return table.get(self.cells, self.capacity, key)


def _empty_table() -> Table:
    return Table(*table.build((), 0))


@dataclass
class Base:
    small: Small = field(default_factory=Small)
    numbers: Table = field(default_factory=_empty_table)  # number -> slot << 32 | state
    blocks: Table = field(default_factory=_empty_table)  # text_key(prefix digits) -> slot
    codes: Table = field(default_factory=_empty_table)  # text_key(sms code) -> slot
    rids: Table = field(default_factory=_empty_table)  # resource id hash -> its first slot
    # Per slot: its resource id's hash, its state, its voice number (0: another kind).
    slot_rid: Sequence[int] = field(default_factory=lambda: array("Q"))
    slot_state: Sequence[int] = field(default_factory=lambda: array("I"))
    slot_number: Sequence[int] = field(default_factory=lambda: array("Q"))
    # Who holds it may pin a view of a mapped file here, to keep the map alive.
    keep: object = None


MAX_KEYED = 17  # digits: 10**17 << 5 stays below 2**64 - 1


def text_key(text: str) -> int | None:
    """A block prefix's or an SMS code's key in a table: its digits and their count (so
    that `0106` and `106` differ), or None for a text that does not fit in 64 bits."""
    if 0 < len(text) <= MAX_KEYED and text.isdigit() and text.isascii():
        return int(text) << 5 | len(text)
    return None


def _table(own: Iterable[tuple[int, int]], own_count: int, base: Table) -> Table:
    """A table of this index's own entries over (and before) the base's."""
    merged = itertools.chain(own, table.items(base.cells))
    return Table(*table.build(merged, own_count + base.count))


def freeze(small: Small, base: Base, numbers: Mapping[int, int],
           blocks: tuple[Mapping[int, int], Mapping[str, int]],
           codes: tuple[Mapping[int, int], Mapping[str, int]],
           slots: tuple[Sequence[int], Sequence[int], Sequence[int]]) -> Base:
    """A new base: `base` with what changed since (an index's own dicts and its slots);
    blocks and codes as (by key, by text where no key holds it)."""
    own = [(key, entry) for key, entry in numbers.items() if table.fits(key)]
    small.loose_numbers = {key: entry for key, entry in numbers.items()
                           if not table.fits(key)}
    small.loose_blocks, small.loose_codes = dict(blocks[1]), dict(codes[1])
    rid, state, number = slots
    rids = ((digest, slot) for slot, digest in enumerate(rid) if table.fits(digest))
    return Base(small, _table(own, len(own), base.numbers),
                _table(blocks[0].items(), len(blocks[0]), base.blocks),
                _table(codes[0].items(), len(codes[0]), base.codes),
                Table(*table.build(rids, len(rid))), rid, state, number)
