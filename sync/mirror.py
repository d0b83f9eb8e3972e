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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog

from registry.trace.answer import Answers
from registry.trace.index import TraceIndex
from registry.trace.model import TraceResult
from sync.client import (
    AnswerLimits,
    AnswerTooLarge,
    AnswerTooSlow,
    FeedClient,
    Key,
    fetch_node_info,
)
from sync.errors import PullFailed, SyncFault
from sync.mirror_store import Cursor, Index, MirrorStore
from sync.mirror_tree import TreeWatch, Witness
from sync.verify import verify_page

log = structlog.get_logger("sync.mirror")


@dataclass
class MirrorStatus:
    cursors: dict[str, int] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    fault: str | None = None
    last_error: str | None = None


class CarrierMirror(MirrorStore):
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
        self._base: Path | None = None
        self._tail = 0
        self._snapshot_at = time.monotonic()
        self._retry_snapshot_at = 0.0
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

    def trace(self, values: list[str], at: int | None = None) -> list[TraceResult]:
        """Trace answers in process, as the node gives them (API.md §6); `at` in epoch s."""
        if self._answers is None:
            if not isinstance(self.index, TraceIndex) or self.node is None:
                raise RuntimeError("trace needs a TraceIndex and a first sync or load")
            self._answers = Answers(self.index, self.node)
        return self._answers.trace(values, int(time.time()) if at is None else at)

    # ---- pulling (the snapshot and the journal: sync/mirror_store.py) ------------

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
