"""The half of a carrier's mirror that keeps what it pulled (sync/mirror.py pulls): the
snapshot it stands on and the journal of what came after, loaded at a start, appended to
as pages are verified, and compacted now and then into a new snapshot with the journal
cut (sync/mirror_index.py writes a TraceIndex's snapshot, sync/mirror_snapshot.py another
sink's records, sync/mirror_journal.py the journal's lines).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec
import structlog

from registry.changelog import GENESIS
from registry.trace.answer import Answers
from registry.trace.index import TraceIndex
from sync import mirror_index
from sync import mirror_snapshot as snapshots
from sync.errors import SyncFault
from sync.mirror_journal import Header, Line, encode_page, pages, read_header, replace, write_header
from sync.mirror_snapshot import Compacted
from sync.mirror_tree import TreeWatch
from sync.verify import Verified

log = structlog.get_logger("sync.mirror")


class Index(Protocol):
    """What the mirror feeds: the trace index of registry.trace, or any other sink."""

    def apply(self, origin: str, seq: int, type: str, record_id: str,
              data: dict[str, Any] | None) -> None: ...


_decode_data = msgspec.json.Decoder(dict[str, Any] | None)


@dataclass
class Cursor:
    seq: int = 0
    hash: str = GENESIS


class MirrorStore:
    """The snapshot and the journal of a CarrierMirror, which sets these attributes."""

    url: str
    member_id: str
    index: Index
    check: Callable[[str, int], str | None]
    _answers: Answers | None
    snapshot: Path | None  # PATH; beside it PATH.journal, PATH.prev, PATH.corrupt
    snapshot_every: int
    snapshot_seconds: float
    _base: Path | None  # the snapshot loaded or last written
    _tail: int  # journal entries since it
    _snapshot_at: float
    _retry_snapshot_at: float  # after a failed compaction: not before then
    _lock: asyncio.Lock
    node: str | None
    keys: list[dict[str, Any]]
    cursors: dict[str, Cursor]
    _journal: Any
    loaded: int
    tree: TreeWatch

    @property
    def _journal_path(self) -> Path:
        assert self.snapshot is not None
        return self.snapshot.with_name(self.snapshot.name + ".journal")

    @property
    def _previous(self) -> Path:
        assert self.snapshot is not None
        return self.snapshot.with_name(self.snapshot.name + ".prev")


    def load(self) -> int:
        """Load the snapshot and replay the journal after it, if there are any; returns
        how many changes of the node's chains they cover (the sum of the seqs reached)."""
        if self.snapshot is None:
            return 0
        self._adopt_old_journal()
        # Decoding makes millions of acyclic objects: the collector would only trace them.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._load_snapshot()
            self._replay_journal()
            self.tree.load()
        finally:
            if collecting:
                gc.enable()
        self._snapshot_at = time.monotonic()
        return sum(cursor.seq for cursor in self.cursors.values())

    def _adopt_old_journal(self) -> None:
        """A mirror of before snapshots kept its journal at the snapshot's path."""
        assert self.snapshot is not None
        if self.snapshot.exists() and not self._journal_path.exists():
            with self.snapshot.open("rb") as old:
                if old.read(1) == b"{":
                    os.replace(self.snapshot, self._journal_path)
                    log.info("mirror_journal_adopted", path=str(self._journal_path))

    def _load_snapshot(self) -> None:
        assert self.snapshot is not None
        rejected = False
        for candidate in (self.snapshot, self._previous):
            if not candidate.exists():
                continue
            base = None
            try:
                if mirror_index.holds_index(candidate):
                    if not isinstance(self.index, TraceIndex):
                        log.warning("mirror_snapshot_unusable", path=str(candidate))
                        continue  # an index snapshot, and this mirror feeds another sink
                    head, base = mirror_index.read(candidate)
                else:
                    snapshots.verify(candidate)
                    head = snapshots.read_head(candidate)
            except (snapshots.Corrupt, msgspec.DecodeError, StopIteration) as bad:
                # Never applied: kept aside for a look, and the next one down is tried.
                log.error("mirror_snapshot_corrupt", path=str(candidate), reason=str(bad))
                os.replace(candidate, candidate.with_name(candidate.name + ".corrupt"))
                rejected = True
                continue
            self._check_identity(head.member, head.url, candidate)
            self.node, self.keys = head.node, head.keys
            if base is not None:
                # Mapped, not applied: the journal's tail goes into the index's own delta.
                self.index = TraceIndex(base)
                self.check, self._answers = self.index.checker(), None
            else:
                self._apply_records(candidate)
            self.cursors = {origin: Cursor(seq, chain)
                            for origin, (seq, chain) in head.cursors.items()}
            self._base = candidate
            if rejected:
                log.warning("mirror_snapshot_fallback", path=str(candidate),
                            seqs={o: c.seq for o, c in self.cursors.items()})
            return
        if rejected:
            log.warning("mirror_full_repull", reason="no snapshot verifies")

    def _apply_records(self, path: Path) -> None:
        """A snapshot of records (a sink other than a TraceIndex, or an older mirror's)."""
        apply = self.index.apply
        for chunk in snapshots.chunks(path):
            origin = chunk.origin
            for record in chunk.records:
                apply(origin, record.seq, record.type, record.id, record.data)
            self.loaded += len(chunk.records)

    def _check_identity(self, member: str, url: str, path: Path) -> None:
        if member != self.member_id or url != self.url:
            raise SyncFault(f"{path} belongs to {member} at {url}")

    def _replay_journal(self) -> None:
        journal = self._journal_path
        if not journal.exists():
            return
        with journal.open("rb") as lines:
            header = read_header(lines)
            good_end = 0
            if header is not None:
                self._check_identity(header.member, header.url, journal)
                if self.node is not None and header.node != self.node:
                    raise SyncFault(f"{journal} is of {header.node}, not {self.node}")
                if self.node is None:
                    self.node, self.keys = header.node, header.keys
                good_end = lines.tell()
                for page, end in pages(lines):
                    cursor = self.cursors.setdefault(page[0].origin, Cursor())
                    if page[-1].seq > cursor.seq:
                        if page[0].seq != cursor.seq + 1 or (
                                page[0].prev and page[0].prev != cursor.hash):
                            # After a fallback to an older snapshot: the rest is pulled again.
                            log.warning("mirror_journal_gap", origin=page[0].origin,
                                        at=cursor.seq, page_from=page[0].seq)
                            break
                        self._replay(page)
                        self._tail += len(page)
                    good_end = end
        with journal.open("r+b") as cut:
            cut.truncate(good_end)

    def _replay(self, page: list[Line]) -> None:
        cursor = self.cursors.setdefault(page[0].origin, Cursor())
        for line in page:
            if line.origin != page[0].origin or line.seq != cursor.seq + 1:
                raise SyncFault(f"journal skips from {cursor.seq} to {line.seq}")
            self._apply(line.origin, line.seq, line.type, line.id, line.payload,
                        line.redacted)
            cursor.seq = line.seq
        cursor.hash = page[-1].hash
        self.loaded += len(page)

    def _open_journal(self) -> None:
        if self.snapshot is None or self._journal is not None:
            return
        journal = self._journal_path
        if not journal.exists() or journal.stat().st_size == 0:
            journal.parent.mkdir(parents=True, exist_ok=True)
            write_header(journal, self._identity())
        self._journal = journal.open("ab")

    def _identity(self) -> Header:
        assert self.node is not None
        return Header(self.node, self.url, self.keys, self.member_id)

    def _append(self, changes: list[Verified], prev: str) -> None:
        if self.snapshot is None:
            return
        self._open_journal()
        self._journal.write(encode_page(changes, prev))
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self._tail += len(changes)

    def snapshot_due(self) -> bool:
        return bool(self._tail) and time.monotonic() >= self._retry_snapshot_at and (
            self._tail >= self.snapshot_every
            or time.monotonic() - self._snapshot_at >= self.snapshot_seconds)

    def write_snapshot(self) -> Compacted | None:
        """Compact the snapshot and the journal into a new snapshot and cut the journal."""
        if self.snapshot is None or self.node is None or not self._tail:
            return None
        until = self._journal_path.stat().st_size
        return self._finish(until, self._compact(until))

    async def write_snapshot_async(self) -> Compacted | None:
        """write_snapshot, with the compaction in a thread: lookups go on meanwhile."""
        async with self._lock:
            if self.snapshot is None or self.node is None or not self._tail:
                return None
            until = self._journal_path.stat().st_size
            return self._finish(until, await asyncio.to_thread(self._compact, until))

    def _compact(self, until: int) -> Compacted | None:
        assert self.snapshot is not None
        started = time.perf_counter()
        try:
            if isinstance(self.index, TraceIndex):
                # The index itself, as of the cursors (no pull runs meanwhile: the lock).
                identity = self._identity()
                head = snapshots.Head(identity.node, identity.url, identity.member,
                                      identity.keys, {o: (c.seq, c.hash)
                                                      for o, c in self.cursors.items()})
                done = mirror_index.write(self.snapshot, self._previous, self.index, head,
                                          self._tail)
            else:
                done = snapshots.compact(self.snapshot, self._previous, self._base,
                                         self._journal_path, until, self._identity())
        except (OSError, snapshots.Corrupt, msgspec.DecodeError) as failed:
            # The journal is kept whole: the next attempt, or a restart, still has it all.
            log.error("mirror_snapshot_failed", reason=str(failed))
            return None
        log.info("mirror_snapshot_written", records=done.records, journal_entries=done.tail,
                 bytes=self.snapshot.stat().st_size,
                 seconds=round(time.perf_counter() - started, 2))
        return done

    def _finish(self, until: int, done: Compacted | None) -> Compacted | None:
        """Cut the journal to what came after the snapshot (what a concurrent pull added)."""
        if done is None:
            self._retry_snapshot_at = time.monotonic() + self.snapshot_seconds
            return None
        assert self.snapshot is not None
        self._base = self.snapshot
        self._snapshot_at = time.monotonic()
        with self._journal_path.open("rb") as journal:
            journal.seek(until)
            rest = journal.read()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        replace(self._journal_path, msgspec.json.encode(self._identity()) + b"\n" + rest)
        self._tail = rest.count(b"\n")
        return done

    def close(self, snapshot: bool = True) -> None:
        """Write a snapshot of what the journal holds (a clean shutdown), then stop;
        `snapshot=False` leaves the journal as it is, as a crash would."""
        if snapshot:
            self.write_snapshot()
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _apply(self, origin: str, seq: int, type: str, record_id: str,
               data: bytes | None, redacted: bool) -> None:
        if redacted:
            return  # the mirror was not given this record; it has nothing to apply
        self.index.apply(origin, seq, type, record_id,
                         None if data is None else _decode_data.decode(data))
