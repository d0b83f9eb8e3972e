"""Files that survive a crash whole: what every writer of a file by a new name needs."""

from __future__ import annotations

import os
from pathlib import Path


def sync_directory(directory: Path) -> None:
    """Flush a directory's entries, so that a name just linked or renamed in it survives
    a crash as its content (already synced) does."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
