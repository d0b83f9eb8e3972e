"""A trace-index snapshot: one file that every worker of a node (and a carrier's mirror)
maps read-only and stands its TraceIndex on, instead of applying the whole change log.

Layout (little-endian; docs/trace-snapshot.md says it in full):

    0   MAGIC (8 bytes)            16  file size (u64)
    8   FORMAT (u32), 0 (u32)      24  meta length (u64), then the meta (msgpack)
    then, each at an 8-aligned offset the meta names: the tables of numbers, blocks, codes
    and resource ids (open addressing, registry/trace/table.py) and the per-slot arrays;
    last, the SHA-256 of every byte before it.

The meta holds the per-origin seqs the snapshot covers, the small tables (registry/trace/
base.py `Small`) and, for a mirror, its own head (opaque here). A file is written to a
temporary name, flushed and renamed, so a reader sees a whole snapshot or the previous
one; a reader checks size and digest of the file as mapped before it reads anything else,
so a torn, truncated or altered snapshot raises Corrupt and is never used.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from registry.durable import sync_directory
from registry.trace.base import Base, Small, Table

MAGIC = b"RTINDEX\x00"
FORMAT = 1
_FIXED = struct.Struct("<8sIIQQ")  # magic, format, 0, file size, meta length
_DIGEST = 32
_TABLES = ("numbers", "blocks", "codes", "rids")
_SLOTS = (("slot_rid", "Q"), ("slot_state", "I"), ("slot_number", "Q"))


class Corrupt(Exception):
    """The file is not a whole snapshot of this format as written."""


class Extent(msgspec.Struct, array_like=True):
    name: str
    offset: int  # from the start of the file
    items: int
    typecode: str
    capacity: int = 0  # tables only
    count: int = 0  # tables only: keys held


class Meta(msgspec.Struct, array_like=True):
    derivation: str
    small: Small
    extents: list[Extent]
    extra: msgspec.Raw = msgspec.Raw(b"\xc0")  # msgpack nil: no head of a mirror


def _derivation() -> str:
    """What derives the index from entries, as code: a snapshot made by other code (a
    release that changed an applier, the tables or the decision's records) is not used,
    whatever FORMAT says."""
    from registry.trace import base, decision, index, keys, slots, table

    digest = hashlib.sha256(str(FORMAT).encode())
    for module in (base, decision, index, keys, slots, table):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:32]


DERIVATION = _derivation()


@dataclass
class Snapshot:
    base: Base
    extra: bytes  # msgpack, as written
    size: int
    verify_seconds: float


_encode = msgspec.msgpack.Encoder().encode
_meta = msgspec.msgpack.Decoder(Meta)


def _arrays(base: Base) -> list[tuple[str, Sequence[int], str, Table | None]]:
    tables = [(name, getattr(base, name)) for name in _TABLES]
    return [*((name, t.cells, "Q", t) for name, t in tables),
            *((name, getattr(base, name), code, None) for name, code in _SLOTS)]


def _align(offset: int) -> int:
    return (offset + 7) & ~7


def write(path: Path, base: Base, extra: bytes = b"\xc0") -> int:
    """Write `base` as the snapshot at `path` (atomically); returns its size in bytes."""
    parts = _arrays(base)
    # The meta names the arrays' offsets, which follow the meta: its length is found by
    # encoding it once with provisional offsets (fixed-width once large enough).
    extents = [Extent(name, 1 << 62, len(cells), code, t.capacity if t else 0,
                      t.count if t else 0) for name, cells, code, t in parts]
    meta = _encode(Meta(DERIVATION, base.small, extents, msgspec.Raw(extra)))
    offset = _align(_FIXED.size + len(meta))
    for extent in extents:
        extent.offset = offset
        offset = _align(offset + extent.items * array(extent.typecode).itemsize)
    meta = _encode(Meta(DERIVATION, base.small, extents, msgspec.Raw(extra)))
    size = offset + _DIGEST
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        with temp.open("wb") as out:
            def put(data: bytes | memoryview) -> None:
                out.write(data)
                digest.update(data)

            head = _FIXED.pack(MAGIC, FORMAT, 0, size, len(meta)) + meta
            put(head)
            written = len(head)
            for extent, (_, cells, code, _t) in zip(extents, parts, strict=True):
                put(bytes(extent.offset - written))
                data = _bytes_of(cells, code)
                put(data)
                written = extent.offset + data.nbytes
            put(bytes(size - _DIGEST - written))
            out.write(digest.digest())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)
    return size


def _bytes_of(cells: Sequence[int], code: str) -> memoryview:
    """The array's bytes as they lie in memory (a copy only for another kind of sequence)."""
    if isinstance(cells, (array, memoryview)) and cells.itemsize == array(code).itemsize:
        return memoryview(cells).cast("B")
    return memoryview(array(code, cells)).cast("B")


def read(path: Path) -> Snapshot:
    """Map the snapshot at `path` and check it whole; Corrupt if it is not one as written.

    The map is shared and read-only: the kernel keeps one copy of its pages for every
    process of the node that maps the file.
    """
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size < _FIXED.size + _DIGEST:
            raise Corrupt(f"{size} bytes: too short")
        mapped = mmap.mmap(file.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    view = memoryview(mapped)
    magic, version, _, stated, meta_length = _FIXED.unpack_from(view)
    if magic != MAGIC:
        raise Corrupt("not a trace index snapshot")
    if version != FORMAT:
        raise Corrupt(f"format {version}, this node reads {FORMAT}")
    if stated != size:
        raise Corrupt(f"{size} bytes where {stated} were written")
    started = time.perf_counter()
    mapped.madvise(mmap.MADV_SEQUENTIAL)
    if hashlib.sha256(view[:-_DIGEST]).digest() != view[-_DIGEST:]:
        raise Corrupt("digest does not match the content")
    verified = time.perf_counter() - started
    mapped.madvise(mmap.MADV_RANDOM)  # lookups from here on: no read-ahead
    try:
        meta = _meta.decode(view[_FIXED.size:_FIXED.size + meta_length])
    except msgspec.DecodeError as bad:
        raise Corrupt(f"meta: {bad}") from bad
    if meta.derivation != DERIVATION:
        raise Corrupt("derived by other code than this node runs")
    arrays: dict[str, tuple[memoryview, Extent]] = {}
    for extent in meta.extents:
        if extent.typecode not in ("Q", "I"):
            raise Corrupt(f"{extent.name}: typecode {extent.typecode!r}")
        end = extent.offset + extent.items * array(extent.typecode).itemsize
        if extent.offset % 8 or not _FIXED.size <= extent.offset <= end <= size - _DIGEST:
            raise Corrupt(f"{extent.name} lies outside the file")
        arrays[extent.name] = (view[extent.offset:end].cast(extent.typecode), extent)  # type: ignore[call-overload]
    if set(arrays) != {*_TABLES, *(name for name, _ in _SLOTS)}:
        raise Corrupt("arrays missing")
    tables = {name: Table(arrays[name][0], arrays[name][1].capacity, arrays[name][1].count)
              for name in _TABLES}
    base = Base(meta.small, tables["numbers"], tables["blocks"], tables["codes"],
                tables["rids"], arrays["slot_rid"][0], arrays["slot_state"][0],
                arrays["slot_number"][0], keep=mapped)
    return Snapshot(base, bytes(meta.extra), size, verified)


def set_aside(path: Path) -> Path:
    """Move a snapshot that failed its checks out of the way, kept for a look."""
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    return aside
