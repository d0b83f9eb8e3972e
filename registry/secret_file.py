"""Secrets made once in the node's data directory (node key, HMAC keys, sealing keys).

Several workers start at once on a fresh directory: each may try to make the same file,
and none may read a half-written one or replace one another worker already uses.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from registry.durable import sync_directory


def create_once(path: Path, content: bytes) -> bool:
    """Make `path` (owner-readable only) holding `content`, unless it exists; True when
    this call made it.

    The content is written and synced under a private name in the same directory, then
    linked to `path`: link() is atomic and refuses an existing name, so of concurrent
    creators the first wins with a whole file, the others leave it as it is and read it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return False
        sync_directory(path.parent)  # the new name survives a crash, like its content
        return True
    finally:
        draft.unlink()
