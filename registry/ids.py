"""Opaque record ids: a short type prefix for people reading logs, then 128 bits in 32 hex
digits: 48 bits of the creation time in milliseconds, 80 random. Ids made close in time
sit close in every index that holds them, so a write touches the few index pages it
touched a moment ago rather than one at random: at millions of rows that is the
difference between a cached page and a read. The time is no secret: records show it."""

import os
import time


def _now_hex() -> str:
    return f"{time.time_ns() // 1_000_000:012x}"


def new_id(prefix: str) -> str:
    return new_ids(prefix, 1)[0]


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids from one read of the system's randomness (a batch: not a read per id)."""
    now, random = _now_hex(), os.urandom(10 * count).hex()
    return [f"{prefix}_{now}{random[i:i + 20]}" for i in range(0, 20 * count, 20)]
