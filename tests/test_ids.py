"""Record ids made one at a time and by the batch look alike and never repeat."""

from __future__ import annotations

import re
import time

from registry.ids import new_id, new_ids

SHAPE = re.compile(r"r_[0-9a-f]{32}")


def test_batch_ids_have_the_shape_of_single_ones_and_are_distinct() -> None:
    batch = new_ids("r", 1000)
    assert len(batch) == 1000
    assert len(set(batch)) == 1000
    assert all(SHAPE.fullmatch(i) for i in [*batch, new_id("r")])
    assert new_ids("r", 0) == []


def test_ids_made_later_sort_later() -> None:
    first = new_id("r")
    time.sleep(0.002)
    later = new_ids("r", 3)
    assert all(first < i for i in later)
