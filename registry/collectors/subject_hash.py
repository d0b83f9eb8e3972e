"""Keyed hashes of collectors' id numbers under a versioned node secret kept outside the database.

The id space is small enough to enumerate, so a plain hash would be no protection: the
HMAC key lives in the node's data directory (`secrets/collector-hmac-v<N>.key`, made once,
0600) and never in PostgreSQL. Each filing records the key version it was hashed under;
a check hashes under every kept version, so rotating the key loses no match.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

_FILE = re.compile(r"^collector-hmac-v(?P<version>[1-9][0-9]{0,5})\.key$")
_KEY_BYTES = 32


@dataclass(frozen=True)
class SubjectKeys:
    """Every kept key version; new hashes use the highest."""

    keys: dict[int, bytes]

    @property
    def current(self) -> int:
        return max(self.keys)

    def digest(self, id_type: str, number: str, version: int | None = None) -> str:
        key = self.keys[self.current if version is None else version]
        message = f"{id_type}:{number}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def digests(self, id_type: str, number: str) -> list[str]:
        """The subject's hash under each kept version, newest first."""
        return [self.digest(id_type, number, v) for v in sorted(self.keys, reverse=True)]


def key_path(secret_dir: Path, version: int) -> Path:
    return secret_dir / f"collector-hmac-v{version}.key"


def _write_new(path: Path) -> None:
    """Write a fresh key at `path`, or FileExistsError; readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(_KEY_BYTES) + "\n")
            out.flush()
            os.fsync(out.fileno())
        # link() is atomic and refuses an existing name: one writer wins, whole.
        os.link(draft, path)
    finally:
        draft.unlink()


def _read(path: Path) -> bytes:
    text = path.read_text().strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ValueError(f"{path} does not hold a {_KEY_BYTES}-byte hex key")
    return bytes.fromhex(text)


def load(secret_dir: Path) -> SubjectKeys:
    """Every key version in `secret_dir`, making version 1 on first start."""
    if not secret_dir.is_dir() or not any(_FILE.match(p.name) for p in secret_dir.iterdir()):
        # Concurrent first starts (several workers) agree on whichever file won.
        with contextlib.suppress(FileExistsError):
            _write_new(key_path(secret_dir, 1))
    keys = {}
    for path in secret_dir.iterdir():
        if match := _FILE.match(path.name):
            keys[int(match["version"])] = _read(path)
    return SubjectKeys(keys)


def rotate(secret_dir: Path) -> int:
    """Make the next key version; old ones stay so earlier filings keep matching."""
    version = load(secret_dir).current + 1
    _write_new(key_path(secret_dir, version))
    return version
