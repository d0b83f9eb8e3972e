"""The trace index's per-resource slots over a base: a slot's resource id hash, decision
state and voice number. The base's slots are read in place (a mapped snapshot, shared by
the node's workers) and never written; a slot changed since is kept in this index's own
dicts, and slots added since in its own arrays after the base's.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence

from registry.trace.base import Base


class Slots:
    def __init__(self, base: Base) -> None:
        self._base_rid = base.slot_rid
        self._base_state = base.slot_state
        self._base_number = base.slot_number
        self._based = len(base.slot_rid)
        self._base_rids = base.rids  # resource id hash -> the first base slot holding it
        self._changed_rid: dict[int, int] = {}
        self._changed_state: dict[int, int] = {}
        self._rid = array("Q")  # slots added since the base: slot - based
        self._state = array("I")
        self._number = array("Q")

    def __len__(self) -> int:
        return self._based + len(self._rid)

    def rid(self, slot: int) -> int:
        if slot >= self._based:
            return self._rid[slot - self._based]
        changed = self._changed_rid.get(slot)
        return self._base_rid[slot] if changed is None else changed

    def state(self, slot: int) -> int:
        if slot >= self._based:
            return self._state[slot - self._based]
        changed = self._changed_state.get(slot)
        return self._base_state[slot] if changed is None else changed

    def number(self, slot: int) -> int:
        if slot >= self._based:
            return self._number[slot - self._based]
        return self._base_number[slot]

    def set_state(self, slot: int, state: int) -> None:
        if slot >= self._based:
            self._state[slot - self._based] = state
        else:
            self._changed_state[slot] = state

    def add(self, rid: int, number: int) -> int:
        """A new slot (withdrawn until its state is set) for resource `rid`."""
        slot = len(self)
        self._rid.append(rid)
        self._state.append(0)
        self._number.append(number)
        return slot

    def set_rid(self, slot: int, rid: int) -> None:
        """Another resource takes the slot (a later supply of the same value)."""
        if slot >= self._based:
            self._rid[slot - self._based] = rid
        else:
            self._changed_rid[slot] = rid

    def find(self, rid: int) -> int | None:
        """The first slot that holds resource `rid` now, or None. Asked only for a
        tombstone: the base's table, the few base slots taken since, then a scan (at C
        speed) of the slots added since, as the index always did, rather than a dict of
        every id (a hundred bytes a number) kept for a rare question."""
        firsts = [slot for slot, held in self._changed_rid.items() if held == rid]
        slot = self._base_rids.get(rid)
        if slot >= 0 and slot in self._changed_rid:
            # That slot was taken by a later supply of its value; a resource whose value
            # changed may still hold another base slot (rare: a scan).
            slot = next((s for s in range(self._based) if self.rid(s) == rid), -1)
        if slot >= 0:
            firsts.append(slot)
        if firsts:
            return min(firsts)
        try:
            return self._based + self._rid.index(rid)
        except ValueError:
            return None

    def state_counts(self) -> Counter[int]:
        """How many slots hold each state."""
        counts = Counter(self._base_state)
        for slot, state in self._changed_state.items():
            counts[self._base_state[slot]] -= 1
            counts[state] += 1
        counts.update(self._state)
        return counts

    def frozen(self) -> tuple[array[int], array[int], array[int]]:
        """Every slot's rid, state and number, as arrays to write into a snapshot."""
        rid, state = _copy("Q", self._base_rid), _copy("I", self._base_state)
        number = _copy("Q", self._base_number)
        for slot, value in self._changed_rid.items():
            rid[slot] = value
        for slot, value in self._changed_state.items():
            state[slot] = value
        rid.extend(self._rid)
        state.extend(self._state)
        number.extend(self._number)
        return rid, state, number


def _copy(typecode: str, values: Sequence[int]) -> array[int]:
    """An array of `values` (an array or a mapped view of one), copied at memory speed."""
    copied = array(typecode)
    copied.frombytes(memoryview(values).cast("B"))  # type: ignore[arg-type]
    return copied
