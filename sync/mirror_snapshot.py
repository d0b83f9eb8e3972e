"""A carrier mirror's snapshot: the latest version of each record it holds, per origin the
seq and chain hash it reached, and the node's pinned keys, in one digest-sealed file.

Layout: MAGIC, then frames (a 4-byte big-endian length and a body): the head (msgpack),
then chunks of records of one origin in seq order (msgpack, zlib level 1: record data
repeats its keys, ids and times, and inflating costs less than reading more), then an
empty frame and the SHA-256 of everything before it. A reader checks the digest over the
whole file before it decodes anything, so a torn or altered snapshot is never applied. A
snapshot is written by compaction, from files only (the previous snapshot and the journal
up to an offset), so it can run in a thread while the mirror keeps answering.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from registry.changelog import GENESIS
from registry.durable import sync_directory
from sync.mirror_journal import Header, pages, read_header

MAGIC = b"RMSNAP01"
CHUNK = 1000  # records per frame: decoded at once, so few temporaries live among the index
_DIGEST = 32


class Corrupt(Exception):
    """The file is not a whole snapshot as written (torn, altered, or not one at all)."""


class Head(msgspec.Struct, array_like=True):
    node: str
    url: str
    member: str
    keys: list[dict[str, Any]]
    cursors: dict[str, tuple[int, str]]  # origin -> (seq, chain hash) reached


class Record(msgspec.Struct, array_like=True):
    seq: int
    type: str
    id: str
    data: dict[str, Any] | None  # None: a tombstone


class RawRecord(msgspec.Struct, array_like=True):
    seq: int
    type: str
    id: str
    data: msgspec.Raw  # msgpack, passed through compaction undecoded


class Chunk(msgspec.Struct, array_like=True):
    origin: str
    records: list[Record]


class RawChunk(msgspec.Struct, array_like=True):
    origin: str
    records: list[RawRecord]


_head = msgspec.msgpack.Decoder(Head)
_chunk = msgspec.msgpack.Decoder(Chunk)
_raw_chunk = msgspec.msgpack.Decoder(RawChunk)
_json_data = msgspec.json.Decoder(dict[str, Any] | None)
_encode = msgspec.msgpack.Encoder()
_NULL = _encode.encode(None)


def verify(path: Path) -> None:
    """Raise Corrupt unless the file's digest matches its content."""
    size = path.stat().st_size
    if size < len(MAGIC) + 4 + _DIGEST:
        raise Corrupt(f"{size} bytes: too short")
    digest = hashlib.sha256()
    with path.open("rb") as snap:
        if snap.read(len(MAGIC)) != MAGIC:
            raise Corrupt("not a mirror snapshot")
        digest.update(MAGIC)
        left = size - len(MAGIC) - _DIGEST
        while left:
            block = snap.read(min(left, 1 << 20))
            if not block:
                raise Corrupt("shorter than it was")
            digest.update(block)
            left -= len(block)
        if snap.read(_DIGEST) != digest.digest():
            raise Corrupt("digest does not match the content")


def _frames(snap: IO[bytes]) -> Iterator[bytes]:
    while True:
        size = int.from_bytes(snap.read(4), "big")
        if size == 0:
            return
        body = snap.read(size)
        if len(body) != size:
            raise Corrupt("a frame runs past the end")
        yield body


def read_head(path: Path) -> Head:
    with path.open("rb") as snap:
        snap.seek(len(MAGIC))
        return _head.decode(next(_frames(snap)))


def chunks(path: Path) -> Iterator[Chunk]:
    """The record chunks of a verified snapshot (call `verify` first)."""
    with path.open("rb") as snap:
        snap.seek(len(MAGIC))
        frames = _frames(snap)
        next(frames)
        for body in frames:
            yield _chunk.decode(zlib.decompress(body))


class _Writer:
    """Frames to a temp file, with the running digest; `seal` makes it the snapshot."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temp = path.with_name(path.name + ".tmp")
        self.out = self.temp.open("wb")
        self.digest = hashlib.sha256()
        self._put(MAGIC)

    def _put(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)

    def frame(self, body: bytes) -> None:
        self._put(len(body).to_bytes(4, "big") + body)

    def chunk(self, body: bytes) -> None:
        self.frame(zlib.compress(body, 1))

    def seal(self, previous: Path) -> None:
        self._put((0).to_bytes(4, "big"))
        self.out.write(self.digest.digest())
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        if self.path.exists():
            os.replace(self.path, previous)
        os.replace(self.temp, self.path)
        sync_directory(self.path.parent)

    def abandon(self) -> None:
        self.out.close()
        self.temp.unlink(missing_ok=True)


@dataclass
class Compacted:
    cursors: dict[str, tuple[int, str]]
    records: int
    tail: int  # journal entries folded in


def compact(path: Path, previous: Path, base: Path | None, journal: Path, until: int,
            identity: Header) -> Compacted:
    """Write a new snapshot at `path` (the old one becomes `previous`): the records of the
    snapshot `base` (None: none), superseded by the journal's pages up to offset `until`."""
    cursors: dict[str, tuple[int, str]] = {}
    keys = identity.keys
    if base is not None:
        verify(base)  # a snapshot is only ever built on one that still verifies
        head = read_head(base)
        cursors, keys = dict(head.cursors), head.keys
    latest: dict[tuple[str, str, str], tuple[int, bytes | None]] = {}
    tail = 0
    with journal.open("rb") as lines:
        read_header(lines)
        for page, _end in pages(lines, until):
            origin = page[0].origin
            seq, chain = cursors.get(origin, (0, GENESIS))
            if page[-1].seq <= seq:
                continue  # already in the base (a crash came before the journal was cut)
            if page[0].seq != seq + 1 or (page[0].prev and page[0].prev != chain):
                raise Corrupt(f"the journal does not continue {origin} at seq {seq}")
            for line in page:
                tail += 1
                if not line.redacted:
                    latest[(origin, line.type, line.id)] = (line.seq, line.payload)
            cursors[origin] = (page[-1].seq, page[-1].hash)
    by_origin: dict[str, list[RawRecord]] = {}
    for (origin, type, record_id), (seq, data) in latest.items():
        raw = _NULL if data is None else _encode.encode(_json_data.decode(data))
        by_origin.setdefault(origin, []).append(RawRecord(seq, type, record_id, msgspec.Raw(raw)))
    latest.clear()
    superseded = {(o, r.type, r.id) for o, records in by_origin.items() for r in records
                  } if base is not None else set()
    writer = _Writer(path)
    try:
        writer.frame(_encode.encode(Head(identity.node, identity.url, identity.member, keys,
                                         cursors)))
        records = 0

        def flush(origin: str) -> None:
            nonlocal records
            fresh = sorted(by_origin.pop(origin, []), key=lambda r: r.seq)
            for start in range(0, len(fresh), CHUNK):
                part = fresh[start:start + CHUNK]
                writer.chunk(_encode.encode(RawChunk(origin, part)))
                records += len(part)

        if base is not None:
            with base.open("rb") as snap:
                snap.seek(len(MAGIC))
                frames = _frames(snap)
                next(frames)
                current: str | None = None
                for body in frames:
                    chunk = _raw_chunk.decode(zlib.decompress(body))
                    if current is not None and chunk.origin != current:
                        flush(current)
                    current = chunk.origin
                    kept = [r for r in chunk.records
                            if (chunk.origin, r.type, r.id) not in superseded]
                    if kept:
                        writer.chunk(_encode.encode(RawChunk(chunk.origin, kept)))
                        records += len(kept)
                if current is not None:
                    flush(current)
        for origin in list(by_origin):
            flush(origin)
        writer.seal(previous)
    except BaseException:
        writer.abandon()
        raise
    return Compacted(cursors, records, tail)
