"""A carrier's in-process copy of the trace records of its home node (API.md §6, §8).

`CarrierMirror` pulls every origin the node holds with the carrier's own member key,
verifies each page as a peer node does (chain, data hashes, the node's checkpoint
signature), feeds the entries to a trace index and appends them to a local journal. Now
and then, and on close, the index is written as a snapshot in the node's own format
(sync/mirror_index.py; another kind of sink gets records, sync/mirror_snapshot.py) and the
journal cut, so a restart maps the snapshot, replays the journal's tail and resumes
pulling from the last seq. A switch calls `mirror.check` or `mirror.trace` with no
network hop (after `load()`, `mirror.index` is the index standing on the snapshot).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import msgspec
import structlog

from registry.changelog import GENESIS
from registry.trace.answer import Answers
from registry.trace.index import TraceIndex
from registry.trace.model import TraceResult
from sync import mirror_index
from sync import mirror_snapshot as snapshots
from sync.client import (
    AnswerLimits,
    AnswerTooLarge,
    AnswerTooSlow,
    FeedClient,
    Key,
    fetch_node_info,
)
from sync.errors import PullFailed, SyncFault
from sync.mirror_journal import Header, Line, encode_page, pages, read_header, replace, write_header
from sync.mirror_snapshot import Compacted
from sync.mirror_tree import TreeWatch, Witness
from sync.verify import Verified, verify_page

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


@dataclass
class MirrorStatus:
    cursors: dict[str, int] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    fault: str | None = None
    last_error: str | None = None


class CarrierMirror:
    """Pulls a node's trace records into `index` (by default a TraceIndex, which `trace`
    answers from with the node's own decision function)."""

    def __init__(
        self, url: str, *, member_id: str, key: Key, kid: str, index: Index | None = None,
        snapshot: Path | None = None, page_limit: int = 5000,
        http: httpx.AsyncClient | None = None,
        snapshot_every: int = 200_000, snapshot_seconds: float = 600.0,
        witnesses: list[Witness] | None = None, witnesses_required: int = 0,
        limits: AnswerLimits | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.member_id, self.key, self.kid = member_id, key, kid
        self.index: Index = TraceIndex() if index is None else index
        self._answers: Answers | None = None
        # The switch's fast path for an E.164 number: why it is not traceable, or None.
        # It is the index's own closure over its tables, so a lookup costs no extra call.
        self.check: Callable[[str, int], str | None] = (
            self.index.checker() if isinstance(self.index, TraceIndex) else _needs_trace_index)
        # The snapshot's path; the journal, the previous snapshot and a rejected one
        # live beside it (PATH.journal, PATH.prev, PATH.corrupt).
        self.snapshot = snapshot
        self.snapshot_every, self.snapshot_seconds = snapshot_every, snapshot_seconds
        self._base: Path | None = None  # the snapshot loaded or last written
        self._tail = 0  # journal entries since it
        self._snapshot_at = time.monotonic()
        self._retry_snapshot_at = 0.0  # after a failed compaction: not before then
        self._lock = asyncio.Lock()
        self.page_limit = page_limit
        self._limit = page_limit  # halved while pages come too large or too slow
        self.limits = limits or AnswerLimits()
        self._http = http
        self.node: str | None = None
        self.keys: list[dict[str, Any]] = []
        self.cursors: dict[str, Cursor] = {}
        self.status = MirrorStatus()
        self._journal: Any = None
        self.loaded = 0
        # The node's Merkle tree as last verified (sync/mirror_tree.py), kept in PATH.tree.
        self.tree = TreeWatch(
            None if snapshot is None else snapshot.with_name(snapshot.name + ".tree"),
            witnesses or [], witnesses_required)

    @property
    def _journal_path(self) -> Path:
        assert self.snapshot is not None
        return self.snapshot.with_name(self.snapshot.name + ".journal")

    @property
    def _previous(self) -> Path:
        assert self.snapshot is not None
        return self.snapshot.with_name(self.snapshot.name + ".prev")

    def trace(self, values: list[str], at: int | None = None) -> list[TraceResult]:
        """Trace answers in process, as the node gives them (API.md §6); `at` in epoch s."""
        if self._answers is None:
            if not isinstance(self.index, TraceIndex) or self.node is None:
                raise RuntimeError("trace needs a TraceIndex and a first sync or load")
            self._answers = Answers(self.index, self.node)
        return self._answers.trace(values, int(time.time()) if at is None else at)

    # ---- the snapshot and the journal ---------------------------------------------

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

    # ---- pulling -----------------------------------------------------------------

    def _apply(self, origin: str, seq: int, type: str, record_id: str,
               data: bytes | None, redacted: bool) -> None:
        if redacted:
            return  # the mirror was not given this record; it has nothing to apply
        self.index.apply(origin, seq, type, record_id,
                         None if data is None else _decode_data.decode(data))

    async def _client(self, http: httpx.AsyncClient) -> FeedClient:
        if self.node is None:
            # First start: trust the node's published keys and keep them in the journal.
            info = await fetch_node_info(self.url, http, self.limits)
            self.node, self.keys = info.node_id, info.keys
        return FeedClient(self.url, audience=self.node, issuer=self.member_id, key=self.key,
                          kid=self.kid, http=http, limits=self.limits)

    async def sync_once(self) -> int:
        """Pull every origin up to the head the node reports; returns changes applied."""
        if self.status.fault:
            raise SyncFault(self.status.fault)
        async with self._lock, self._session() as http:
            client = await self._client(http)
            heads = await client.heads()
            self.status.heads = dict(heads.origins)
            applied = 0
            for origin, head in heads.origins.items():
                cursor = self.cursors.setdefault(origin, Cursor())
                while cursor.seq < head:
                    got = await self._pull_page(client, origin, cursor)
                    if got == 0:
                        break
                    applied += got
            await self._check_tree(client, http)
            return applied

    async def _check_tree(self, client: FeedClient, http: httpx.AsyncClient) -> None:
        assert self.node is not None
        own = self.cursors.get(self.node)
        try:
            await self.tree.check(client, self.node, self.keys,
                                  None if own is None else (own.seq, own.hash), http)
        except SyncFault as fault:
            self.status.fault = str(fault)
            log.error("mirror_fault", origin=self.node, reason=str(fault))
            raise

    async def _pull_page(self, client: FeedClient, origin: str, cursor: Cursor) -> int:
        try:
            feed = await client.changes(cursor.seq, self._limit, origin=origin)
        except (AnswerTooLarge, AnswerTooSlow):
            self._limit = max(1, self._limit // 2)  # a smaller page may fit
            raise
        self._limit = min(self.page_limit, self._limit * 2)
        assert self.node is not None
        try:
            proven = verify_page(feed, node=self.node, origin=origin, keys=self.keys,
                                 after_seq=cursor.seq, after_hash=cursor.hash,
                                 held={cursor.seq: cursor.hash})
        except SyncFault as fault:
            self.status.fault = str(fault)
            log.error("mirror_fault", origin=origin, reason=str(fault))
            raise
        if not proven:
            return 0
        self._append(proven, cursor.hash)
        for c in proven:
            self._apply(c.origin, c.seq, c.type, c.id, c.data, c.redacted)
        cursor.seq, cursor.hash = proven[-1].seq, proven[-1].hash
        self.status.cursors[origin] = cursor.seq
        return len(proven)

    def _session(self) -> Any:
        if self._http is not None:
            return _Borrowed(self._http)
        return httpx.AsyncClient()  # each answer is bounded by self.limits

    async def run(self, interval: float = 1.0,
                  on_applied: Callable[[int], None] | None = None) -> None:
        """Follow the node until cancelled; stops for good on a verification fault (raised),
        any other failure is kept in status.last_error, logged and tried again."""
        backoff = interval
        while True:
            try:
                applied = await self.sync_once()
            except SyncFault:
                raise
            except Exception as exc:  # whatever the node sent, the mirror goes on
                error = str(exc) if isinstance(exc, PullFailed) else f"{type(exc).__name__}: {exc}"
                self.status.last_error = error
                log.warning("mirror_pull_failed", error=error[:300], retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            self.status.last_error = None
            backoff = interval
            if on_applied is not None and applied:
                on_applied(applied)
            if self.snapshot_due():
                await self.write_snapshot_async()
            await asyncio.sleep(interval)


def _needs_trace_index(number: str, at: int) -> str | None:
    raise RuntimeError("check needs a TraceIndex")


class _Borrowed:
    """An HTTP client lent to the mirror: used, never closed by it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __aenter__(self) -> httpx.AsyncClient:
        return self.http

    async def __aexit__(self, *_: object) -> None:
        return None
