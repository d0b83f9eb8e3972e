"""A carrier mirror's snapshot when it keeps a trace index: the node's own snapshot format
(registry/trace/snapshot.py), its extra field holding the mirror's head (node, url, member,
pinned keys, and per origin the seq and chain hash reached). A restart maps it, checks its
digest, stands a TraceIndex on it and replays only the journal after it: no record is
applied again. (A mirror that feeds another kind of index keeps records,
sync/mirror_snapshot.py; a mirror reads either, so one written before this format still
loads, and its next snapshot is written in this one.)
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from registry.trace import snapshot
from registry.trace.base import Base
from registry.trace.index import TraceIndex
from sync.mirror_snapshot import Compacted, Corrupt, Head

_head = msgspec.msgpack.Decoder(Head)
_encode = msgspec.msgpack.Encoder().encode


def holds_index(path: Path) -> bool:
    """Whether the file at `path` claims to be an index snapshot (its checks come later)."""
    with path.open("rb") as file:
        return file.read(len(snapshot.MAGIC)) == snapshot.MAGIC


def read(path: Path) -> tuple[Head, Base]:
    """The mirror's head and the index of a whole snapshot; Corrupt for any other file."""
    try:
        found = snapshot.read(path)
        return _head.decode(found.extra), found.base
    except (snapshot.Corrupt, msgspec.DecodeError) as bad:
        raise Corrupt(str(bad)) from bad


def write(path: Path, previous: Path, index: TraceIndex, head: Head, tail: int) -> Compacted:
    """Snapshot `index` (as of `head.cursors`) at `path`; the one there becomes `previous`
    (should this stop half-way, `previous` and the journal still hold everything)."""
    frozen = index.freeze()
    if path.exists():
        os.replace(path, previous)
    snapshot.write(path, frozen, _encode(head))
    return Compacted(dict(head.cursors), len(index), tail)
