"""A carrier mirror's journal: what it verified since its last snapshot, page by page.

One file: a header line naming the node and its pinned keys, then one line per applied
change, pages written whole. A page's first line carries the chain's hash before it
(`prev`) and its last line the hash after it, so a restart checks that the tail continues
the chain where the snapshot left it. A torn page (a crash mid-write) is dropped on load.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from registry.durable import sync_directory
from sync.verify import Verified


class Header(msgspec.Struct):
    node: str
    url: str
    keys: list[dict[str, Any]]
    member: str


class Line(msgspec.Struct, array_like=True):
    """One applied change; `hash` is set on a page's last line, `prev` on its first."""

    origin: str
    seq: int
    type: str
    id: str
    hash: str
    data: msgspec.Raw  # null: a tombstone, or a change sent redacted (not applied)
    redacted: bool = False
    prev: str = ""  # journals written before snapshots did not carry it

    @property
    def payload(self) -> bytes | None:
        raw = bytes(self.data)
        return None if raw == b"null" else raw


_decode_line = msgspec.json.Decoder(Line)


def encode_page(changes: list[Verified], prev: str) -> bytes:
    first, last = changes[0], changes[-1]
    lines = [msgspec.json.encode(Line(
        c.origin, c.seq, c.type, c.id, c.hash if c is last else "",
        msgspec.Raw(b"null" if c.data is None else c.data), c.redacted,
        prev if c is first else "")) for c in changes]
    return b"\n".join(lines) + b"\n"


def read_header(journal: BinaryIO) -> Header | None:
    line = journal.readline()
    if not line.endswith(b"\n"):
        return None
    return msgspec.json.decode(line, type=Header)


def pages(journal: BinaryIO, until: int | None = None) -> Iterator[tuple[list[Line], int]]:
    """The whole pages after the header, each with the offset just past it."""
    page: list[Line] = []
    for raw in journal:
        if not raw.endswith(b"\n"):
            return  # torn by a crash: the pull will fetch it again
        page.append(_decode_line.decode(raw))
        if page[-1].hash:  # a page is whole once its last line, with its hash, is
            end = journal.tell()
            yield page, end
            page = []
            if until is not None and end >= until:
                return


def write_header(path: Path, header: Header) -> None:
    """Start an empty journal (atomically: a crash leaves the old one or the new one)."""
    replace(path, msgspec.json.encode(header) + b"\n")


def replace(path: Path, content: bytes) -> None:
    temp = path.with_name(path.name + ".tmp")
    with temp.open("wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    sync_directory(path.parent)
