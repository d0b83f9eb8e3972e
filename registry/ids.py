"""Opaque record ids: a short type prefix for people reading logs, then 128 random bits."""

import os
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids from one read of the system's randomness (a batch: not a read per id)."""
    random = os.urandom(16 * count).hex()
    return [f"{prefix}_{random[i:i + 32]}" for i in range(0, 32 * count, 32)]
