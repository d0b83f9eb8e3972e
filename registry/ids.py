"""Opaque record ids: a short type prefix for people reading logs, then 128 random bits."""

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"
