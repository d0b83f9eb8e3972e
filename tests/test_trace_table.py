"""The open-addressing table the shared trace index maps (registry/trace/table.py): every
key found with its first value, absent keys not, runs past the last home cell kept in the
tail, and the probe length bounded at the table's load."""

from __future__ import annotations

import random

import pytest

from registry.trace import table


def test_every_key_is_found_and_no_other() -> None:
    rng = random.Random(3)  # noqa: S311 - reproducible keys
    keys = rng.sample(range(1, 10**15), 5000)
    cells, capacity, count = table.build(((k, k * 3) for k in keys), len(keys))
    assert count == len(keys)
    assert count / capacity <= table.LOAD
    assert all(table.get(cells, capacity, k) == k * 3 for k in keys)
    assert all(table.get(cells, capacity, k + 1) == -1 for k in keys if k + 1 not in keys)
    assert sorted(table.items(cells)) == sorted((k, k * 3) for k in keys)
    reader = table.reader({keys[0]: 7}, cells, capacity)  # what changed since, first
    assert (reader(keys[0]), reader(keys[1]), reader(0)) == (7, keys[1] * 3, -1)


def test_runs_past_the_last_home_cell_go_into_the_tail() -> None:
    capacity = table.capacity_for(40)
    last = [k for k in range(1, 10**6) if table.home(k, capacity) == capacity - 1][:30]
    cells, built_capacity, count = table.build(((k, n) for n, k in enumerate(last)), 40)
    assert (built_capacity, count) == (capacity, 30)
    assert len(cells) // 2 >= capacity + 30  # the run spilled, and an empty cell ends it
    assert cells[-2] == table.EMPTY
    assert [table.get(cells, capacity, k) for k in last] == list(range(30))


def test_a_key_given_twice_keeps_its_first_value_and_no_key_is_the_empty_mark() -> None:
    cells, capacity, count = table.build([(5, 1), (5, 2)], 2)
    assert (table.get(cells, capacity, 5), count) == (1, 1)
    with pytest.raises(ValueError, match="below"):
        table.build([(table.EMPTY, 1)], 1)


def test_probes_stay_short_at_the_full_load() -> None:
    rng = random.Random(5)  # noqa: S311 - reproducible keys
    keys = rng.sample(range(10**12, 10**13), 20_000)
    cells, capacity, _ = table.build(((k, 1) for k in keys), len(keys))
    probes = 0
    for key in keys:
        at = table.home(key, capacity) * 2
        probes += 1
        while cells[at] != key:
            at += 2
            probes += 1
    assert probes / len(keys) < 3  # linear probing at load 0.7: 2.2 expected
