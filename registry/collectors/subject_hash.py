"""Keyed hashes of collectors' id numbers (registry/keyed_hash.py, purpose `collector`).

Each filing records the key version it was hashed under; a check hashes under every kept
version, so rotating the key loses no match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry import keyed_hash

PURPOSE = "collector"


@dataclass(frozen=True)
class SubjectKeys:
    """Every kept key version; new hashes use the highest."""

    ring: keyed_hash.KeyRing

    @property
    def keys(self) -> dict[int, bytes]:
        return self.ring.keys

    @property
    def current(self) -> int:
        return self.ring.current

    def digest(self, id_type: str, number: str, version: int | None = None) -> str:
        return self.ring.mac(f"{id_type}:{number}".encode(), version).hex()

    def digests(self, id_type: str, number: str) -> list[str]:
        """The subject's hash under each kept version, newest first."""
        return [mac.hex() for _, mac in self.ring.macs(f"{id_type}:{number}".encode())]


def key_path(secret_dir: Path, version: int) -> Path:
    return keyed_hash.key_path(secret_dir, PURPOSE, version)


def load(secret_dir: Path) -> SubjectKeys:
    """Every key version in `secret_dir`, making version 1 on first start."""
    return SubjectKeys(keyed_hash.load(secret_dir, PURPOSE))


def rotate(secret_dir: Path) -> int:
    """Make the next key version; old ones stay so earlier filings keep matching."""
    return keyed_hash.rotate(secret_dir, PURPOSE)
