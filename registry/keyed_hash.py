"""Keyed hashes of personal identifiers under versioned secrets kept outside the database.

Collectors' id numbers and debtors' phone numbers come from spaces small enough to
enumerate, so a plain hash would be no protection: each purpose has its own HMAC key in
the node's data directory (`secrets/<purpose>-hmac-v<N>.key`, made once, 0600) and never
in PostgreSQL. What a node compares across the association (debtors' numbers counted on
every node) needs the same key files on every node: they are association-wide, copied
like the node's other secrets. Each stored hash records its key version; a lookup hashes
under every kept version, so rotating a key loses no match and no count.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from registry.secret_file import create_once

_KEY_BYTES = 32
_PURPOSE = re.compile(r"^[a-z][a-z0-9]{0,30}$")


@dataclass(frozen=True)
class KeyRing:
    """Every kept key version of one purpose; new hashes use the highest."""

    keys: dict[int, bytes]
    _newest_first: tuple[tuple[int, bytes], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        newest = tuple(sorted(self.keys.items(), reverse=True))
        object.__setattr__(self, "_newest_first", newest)

    @property
    def current(self) -> int:
        return self._newest_first[0][0]

    def mac(self, message: bytes, version: int | None = None) -> bytes:
        """The full HMAC-SHA256 of `message` under one version (the current by default)."""
        key = self._newest_first[0][1] if version is None else self.keys[version]
        return hmac.digest(key, message, "sha256")

    def mac_many(self, messages: Iterable[bytes], version: int | None = None) -> list[bytes]:
        """mac() of each message: the keyed state is made once and copied (half the cost)."""
        key = self._newest_first[0][1] if version is None else self.keys[version]
        keyed = hmac.new(key, digestmod="sha256")
        macs = []
        for message in messages:
            state = keyed.copy()
            state.update(message)
            macs.append(state.digest())
        return macs

    def macs(self, message: bytes) -> list[tuple[int, bytes]]:
        """(version, HMAC) under each kept version, newest first."""
        return [(v, hmac.digest(k, message, "sha256")) for v, k in self._newest_first]


def key_path(secret_dir: Path, purpose: str, version: int) -> Path:
    if not _PURPOSE.match(purpose):
        raise ValueError(f"not a key purpose: {purpose!r}")
    return secret_dir / f"{purpose}-hmac-v{version}.key"


def _file_pattern(purpose: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(purpose)}-hmac-v(?P<version>[1-9][0-9]{{0,5}})\.key$")


def _write_new(path: Path) -> bool:
    """Write a fresh key at `path` unless one is there; readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return create_once(path, (secrets.token_hex(_KEY_BYTES) + "\n").encode())


def _read(path: Path) -> bytes:
    text = path.read_text().strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ValueError(f"{path} does not hold a {_KEY_BYTES}-byte hex key")
    return bytes.fromhex(text)


def load(secret_dir: Path, purpose: str) -> KeyRing:
    """Every key version of `purpose` in `secret_dir`, making version 1 on first start."""
    pattern = _file_pattern(purpose)
    if not secret_dir.is_dir() or not any(pattern.match(p.name) for p in secret_dir.iterdir()):
        # Concurrent first starts (several workers) agree on whichever file won.
        _write_new(key_path(secret_dir, purpose, 1))
    keys = {}
    for path in secret_dir.iterdir():
        if match := pattern.match(path.name):
            keys[int(match["version"])] = _read(path)
    return KeyRing(keys)


def rotate(secret_dir: Path, purpose: str) -> int:
    """Make the next key version of `purpose`; old ones stay so earlier hashes keep matching."""
    version = load(secret_dir, purpose).current + 1
    if not _write_new(key_path(secret_dir, purpose, version)):
        raise FileExistsError(f"key version {version} of {purpose} exists already")
    return version

