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
        self._base_rids = base.rids
        self._changed_rid: dict[int, int] = {}
        self._changed_state: dict[int, int] = {}
        self._rid = array("Q")  # slots added since the base: slot - based
        self._state = array("I")
        self._number = array("Q")
        # Resource id hash -> the first slot given it since the base.
        self._slot_of_rid: dict[int, int] = {}

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
        self._remember(rid, slot)
        return slot

    def set_rid(self, slot: int, rid: int) -> None:
        """Another resource takes the slot (a later supply of the same value)."""
        if slot >= self._based:
            self._rid[slot - self._based] = rid
        else:
            self._changed_rid[slot] = rid
        self._remember(rid, slot)

    def _remember(self, rid: int, slot: int) -> None:
        first = self.find(rid)
        if first is None or slot < first:
            self._slot_of_rid[rid] = slot

    def find(self, rid: int) -> int | None:
        """The first slot that holds resource `rid` now, or None."""
        slot = self._slot_of_rid.get(rid)
        if slot is None:
            held = self._base_rids.get(rid)
            if held < 0:
                return None
            slot = held
        if self.rid(slot) == rid:
            return slot
        # That slot was taken by a later supply of its value: a resource whose value
        # changed may still hold another slot (rare; a scan, as the index always did).
        return next((s for s in range(len(self)) if self.rid(s) == rid), None)

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
