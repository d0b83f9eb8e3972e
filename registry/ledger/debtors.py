"""Debtors' numbers as the ledger keeps them: a keyed hash (registry/keyed_hash.py, purpose
`debtor`), never the number. The key is association-wide, so every node counts one debtor
under one hash; counts and agreements are looked up under every kept key version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from registry import keyed_hash, phone

PURPOSE = "debtor"
HASH_BYTES = 16  # 128 bits: no collision among any plausible number of debtors


class UnreadableNumber(ValueError):
    """The text is not a phone number (its message never repeats the text)."""


def e164(text: str) -> str:
    try:
        return phone.e164(text, strict=False)
    except phone.NotANumber as exc:
        raise UnreadableNumber(str(exc)) from None


@dataclass(frozen=True)
class DebtorKeys:
    ring: keyed_hash.KeyRing

    @property
    def current(self) -> int:
        return self.ring.current

    def hash(self, number: str) -> bytes:
        """The hash of an E.164 number under the current version."""
        return self.ring.mac(b"phone:" + number.encode())[:HASH_BYTES]

    def hash_many(self, numbers: Sequence[str], version: int | None = None) -> list[bytes]:
        """hash() of each number under one version (the current by default)."""
        return [mac[:HASH_BYTES] for mac in self.ring.mac_many(
            (b"phone:" + n.encode() for n in numbers), version)]

    def older_versions(self) -> list[int]:
        return sorted((v for v in self.ring.keys if v != self.current), reverse=True)

    def hashes(self, number: str) -> list[bytes]:
        """Its hash under every kept version, newest first."""
        return [mac[:HASH_BYTES] for _, mac in self.ring.macs(b"phone:" + number.encode())]


def load(secret_dir: Path) -> DebtorKeys:
    return DebtorKeys(keyed_hash.load(secret_dir, PURPOSE))


def rotate(secret_dir: Path) -> int:
    return keyed_hash.rotate(secret_dir, PURPOSE)
