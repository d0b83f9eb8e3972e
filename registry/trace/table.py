"""An open-addressing hash table of uint64 keys to uint64 values in one flat array, so that
it can live in a mapped file and be read by every worker of a node without a copy.

Layout: `[key0, value0, key1, value1, ...]` over `capacity + tail` cells; a key and its
value share a cache line, and a probe reads no other memory. Keys are placed by linear
probing from `home(key)`; the tail holds runs that spill past the last home cell and ends
with an empty cell, so a probe never wraps. At a load of at most LOAD the expected probe
length is constant (for random keys about 2.2 cells for a hit and 6 for a miss, four cells
to a cache line; numbers of one range spread better), whatever the table's size:
lookups at ten million keys cost what they cost at a hundred thousand, but for the caches.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence

EMPTY = (1 << 64) - 1  # never a key: keys are below 2**64 - 1 (see `fits`)
LOAD = 0.7
# Multiplying by an odd 64-bit constant and keeping the bits above the 32nd spreads keys
# that differ only in their low digits (numbers of one block) over the whole table.
MIX = 0x9E3779B97F4A7C15
SHIFT = 32


def fits(key: int) -> bool:
    return 0 <= key < EMPTY


def capacity_for(count: int) -> int:
    """Home cells for `count` keys at a load of at most LOAD (odd: the modulus mixes)."""
    return max(8, int(count / LOAD) + 1) | 1


def home(key: int, capacity: int) -> int:
    return (key * MIX >> SHIFT) % capacity


def build(items: Iterable[tuple[int, int]], count: int) -> tuple[array[int], int, int]:
    """The table of `items` (at most `count` of them), its capacity and how many keys it
    holds. A key given twice keeps its first value."""
    capacity = capacity_for(count)
    cells = array("Q", [EMPTY]) * (2 * capacity + 2)
    size = capacity + 1  # cells in use, the empty one at the end included
    held_keys = 0
    for key, value in items:
        if not fits(key):
            raise ValueError("a key of the table must be below 2**64 - 1")
        at = (key * MIX >> SHIFT) % capacity * 2
        while True:
            held = cells[at]
            if held == EMPTY:
                cells[at] = key
                cells[at + 1] = value
                held_keys += 1
                break
            if held == key:
                break
            at += 2
        if at // 2 + 1 >= size:
            # The run spilled past the end: grow the tail, keeping an empty cell last.
            grown = at // 2 + 2
            cells.extend(array("Q", [EMPTY]) * (2 * (grown - size)))
            size = grown
    return cells, capacity, held_keys


def get(cells: Sequence[int], capacity: int, key: int) -> int:
    """The value of `key`, or -1."""
    at = (key * MIX >> SHIFT) % capacity * 2
    while True:
        held = cells[at]
        if held == key:
            return cells[at + 1]
        if held == EMPTY:
            return -1
        at += 2


def items(cells: Sequence[int]) -> Iterable[tuple[int, int]]:
    """Every (key, value) held, in cell order."""
    for at in range(0, len(cells), 2):
        key = cells[at]
        if key != EMPTY:
            yield key, cells[at + 1]


def reader(overlay: dict[int, int], cells: Sequence[int], capacity: int
           ) -> Callable[[int], int]:
    """A key's value in `overlay` (what changed since the table was made), else in the
    table, else -1: one closure with its tables bound as defaults (the cheapest names to
    read), since it runs once per looked-up number."""

    def value(key: int, get: Callable[[int], int | None] = overlay.get,
              cells: Sequence[int] = cells, capacity: int = capacity,
              mix: int = MIX, shift: int = SHIFT, empty: int = EMPTY) -> int:
        found = get(key)
        if found is not None:
            return found
        at = (key * mix >> shift) % capacity * 2  # get(), inlined
        while True:
            held = cells[at]
            if held == key:
                return cells[at + 1]
            if held == empty:
                return -1
            at += 2

    return value
