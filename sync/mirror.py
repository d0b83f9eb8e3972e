"""A carrier's in-process copy of the trace records of its home node (API.md §6, §8).

`CarrierMirror` pulls every origin the node holds with the carrier's own member key,
verifies each page as a peer node does (chain, data hashes, the node's checkpoint
signature), feeds the entries to a trace index and appends them to a local journal, so
that a restart resumes from the last seq instead of from the start. A switch calls
`mirror.index` (or the answers built on it) with no network hop.

The journal is one file: a header line naming the node and its pinned keys, then one
line per applied change, pages written whole (the last line of each carries the chain's
hash there). A torn page (a crash mid-write) is dropped on load and pulled again.
"""

from __future__ import annotations

import asyncio
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
from sync.client import FeedClient, Key, fetch_node_info
from sync.errors import PullFailed, SyncFault
from sync.verify import Verified, verify_page

log = structlog.get_logger("sync.mirror")


class Index(Protocol):
    """What the mirror feeds: the trace index of registry.trace, or any other sink."""

    def apply(self, origin: str, seq: int, type: str, record_id: str,
              data: dict[str, Any] | None) -> None: ...


class Header(msgspec.Struct):
    node: str
    url: str
    keys: list[dict[str, Any]]
    member: str


class Line(msgspec.Struct, array_like=True):
    """One applied change in the journal; `hash` is set on the last line of a page only."""

    origin: str
    seq: int
    type: str
    id: str
    hash: str
    data: msgspec.Raw  # null: a tombstone, or a change sent redacted (not applied)
    redacted: bool = False


_decode_line = msgspec.json.Decoder(Line)
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
    ) -> None:
        self.url = url.rstrip("/")
        self.member_id, self.key, self.kid = member_id, key, kid
        self.index: Index = TraceIndex() if index is None else index
        self._answers: Answers | None = None
        # The switch's fast path for an E.164 number: why it is not traceable, or None.
        # It is the index's own closure over its tables, so a lookup costs no extra call.
        self.check: Callable[[str, int], str | None] = (
            self.index.checker() if isinstance(self.index, TraceIndex) else _needs_trace_index)
        self.snapshot = snapshot
        self.page_limit = page_limit
        self._http = http
        self.node: str | None = None
        self.keys: list[dict[str, Any]] = []
        self.cursors: dict[str, Cursor] = {}
        self.status = MirrorStatus()
        self._journal: Any = None
        self.loaded = 0

    def trace(self, values: list[str], at: int | None = None) -> list[TraceResult]:
        """Trace answers in process, as the node gives them (API.md §6); `at` in epoch s."""
        if self._answers is None:
            if not isinstance(self.index, TraceIndex) or self.node is None:
                raise RuntimeError("trace needs a TraceIndex and a first sync or load")
            self._answers = Answers(self.index, self.node)
        return self._answers.trace(values, int(time.time()) if at is None else at)

    # ---- the journal -------------------------------------------------------------

    def load(self) -> int:
        """Re-apply the journal, if there is one; returns how many changes it held."""
        if self.snapshot is None or not self.snapshot.exists():
            return 0
        with self.snapshot.open("rb") as journal:
            header_line = journal.readline()
            if not header_line.endswith(b"\n"):
                return 0
            header = msgspec.json.decode(header_line, type=Header)
            if header.member != self.member_id or header.url != self.url:
                raise SyncFault(f"{self.snapshot} belongs to {header.member} at {header.url}")
            self.node, self.keys = header.node, header.keys
            good_end = journal.tell()
            page: list[Line] = []
            for raw in journal:
                if not raw.endswith(b"\n"):
                    break  # torn by a crash: the pull will fetch it again
                page.append(_decode_line.decode(raw))
                if page[-1].hash:  # a page is whole once its last line, with its hash, is
                    self._replay(page)
                    good_end = journal.tell()
                    page = []
        with self.snapshot.open("r+b") as journal:
            journal.truncate(good_end)
        return self.loaded

    def _replay(self, page: list[Line]) -> None:
        cursor = self.cursors.setdefault(page[0].origin, Cursor())
        for line in page:
            if line.origin != page[0].origin or line.seq != cursor.seq + 1:
                raise SyncFault(f"journal skips from {cursor.seq} to {line.seq}")
            self._apply(line.origin, line.seq, line.type, line.id, self._data_of(line.data),
                        line.redacted)
            cursor.seq = line.seq
        cursor.hash = page[-1].hash
        self.loaded += len(page)

    def _open_journal(self) -> None:
        if self.snapshot is None or self._journal is not None:
            return
        fresh = not self.snapshot.exists() or self.snapshot.stat().st_size == 0
        self.snapshot.parent.mkdir(parents=True, exist_ok=True)
        self._journal = self.snapshot.open("ab")
        if fresh:
            assert self.node is not None
            header = Header(self.node, self.url, self.keys, self.member_id)
            self._journal.write(msgspec.json.encode(header) + b"\n")

    def _append(self, changes: list[Verified]) -> None:
        if self.snapshot is None:
            return
        self._open_journal()
        # Only a page's last line carries its hash: all a restart needs to continue the chain.
        last = changes[-1]
        lines = [msgspec.json.encode(Line(
            c.origin, c.seq, c.type, c.id, c.hash if c is last else "",
            msgspec.Raw(b"null" if c.data is None else c.data), c.redacted)) for c in changes]
        self._journal.write(b"\n".join(lines) + b"\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def close(self) -> None:
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

    @staticmethod
    def _data_of(raw: msgspec.Raw) -> bytes | None:
        return None if bytes(raw) == b"null" else bytes(raw)

    async def _client(self, http: httpx.AsyncClient) -> FeedClient:
        if self.node is None:
            # First start: trust the node's published keys and keep them in the journal.
            info = await fetch_node_info(self.url, http)
            self.node, self.keys = info.node_id, info.keys
        return FeedClient(self.url, audience=self.node, issuer=self.member_id, key=self.key,
                          kid=self.kid, http=http)

    async def sync_once(self) -> int:
        """Pull every origin up to the head the node reports; returns changes applied."""
        if self.status.fault:
            raise SyncFault(self.status.fault)
        async with self._session() as http:
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
            return applied

    async def _pull_page(self, client: FeedClient, origin: str, cursor: Cursor) -> int:
        feed = await client.changes(cursor.seq, self.page_limit, origin=origin)
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
        self._append(proven)
        for c in proven:
            self._apply(c.origin, c.seq, c.type, c.id, c.data, c.redacted)
        cursor.seq, cursor.hash = proven[-1].seq, proven[-1].hash
        self.status.cursors[origin] = cursor.seq
        return len(proven)

    def _session(self) -> Any:
        if self._http is not None:
            return _Borrowed(self._http)
        return httpx.AsyncClient(timeout=60)

    async def run(self, interval: float = 1.0,
                  on_applied: Callable[[int], None] | None = None) -> None:
        """Follow the node until cancelled; stops for good on a verification fault."""
        backoff = interval
        while True:
            try:
                applied = await self.sync_once()
            except PullFailed as exc:
                self.status.last_error = str(exc)
                log.warning("mirror_pull_failed", error=str(exc)[:300], retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            self.status.last_error = None
            backoff = interval
            if on_applied is not None and applied:
                on_applied(applied)
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
