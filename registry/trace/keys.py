"""What the trace index finds a resource by: voice numbers (to their packed slot and
state), block prefixes and SMS codes (to their slot). Each is the base's table (a mapped
snapshot, registry/trace/table.py) under this index's own dict of what changed since;
a key no uint64 holds (a value from a peer that no validation of this node has seen) lives
in a dict by its text, here and in a snapshot.
"""

from __future__ import annotations

from registry.trace import table
from registry.trace.base import Base, text_key

BLOCK = "voice_block"


class Keys:
    def __init__(self, base: Base) -> None:
        small = base.small
        # Voice number (E.164 digits as int) -> slot << 32 | state.
        self.numbers: dict[int, int] = dict(small.loose_numbers)
        self.entry = table.reader(self.numbers, base.numbers.cells, base.numbers.capacity)
        self.block_keys: dict[int, int] = {}  # text_key(prefix digits) -> slot
        self.block_slot = table.reader(self.block_keys, base.blocks.cells,
                                       base.blocks.capacity)
        self.loose_blocks: dict[str, int] = dict(small.loose_blocks)
        self.code_keys: dict[int, int] = {}  # text_key(sms code) -> slot
        self.code_slot = table.reader(self.code_keys, base.codes.cells, base.codes.capacity)
        self.loose_codes: dict[str, int] = dict(small.loose_codes)

    def text_slot(self, kind: str, text: str) -> int | None:
        """The slot of a block prefix or an SMS code (any kind but voice), or None."""
        block = kind == BLOCK
        key = text_key(text)
        if key is None:
            return (self.loose_blocks if block else self.loose_codes).get(text)
        slot = (self.block_slot if block else self.code_slot)(key)
        return None if slot < 0 else slot

    def add_text(self, kind: str, text: str, slot: int) -> None:
        block = kind == BLOCK
        key = text_key(text)
        if key is None:
            (self.loose_blocks if block else self.loose_codes)[text] = slot
        else:
            (self.block_keys if block else self.code_keys)[key] = slot
