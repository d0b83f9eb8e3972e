"""Keeps a worker's trace index current from the node's change log (of every origin).

The index is built by applying the log from the start, then tailed by per-origin seq: at
once on a NOTIFY on channel `change_log`, and at least every second in case a notice was
missed (peer entries stored by the feed consumer, a dropped listener). A write is visible
to its writer's next trace at once: the worker that made it applies its own entries before
answering, and publishes the seq in a file every worker of the node maps, so that any other
worker that is behind it catches up before it answers a trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import mmap
import os
import struct
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import structlog

from registry.changelog import CHANNEL
from registry.db import Connection, connect
from registry.ledger.counting import HoldsNone
from registry.ledger.memory import TYPES as LEDGER_TYPES
from registry.ledger.memory import LedgerMemory
from registry.ledger.store import REPORT
from registry.record_types import TRACE_TYPES
from registry.trace.index import TraceIndex

log = structlog.get_logger("registry.trace.feed")
POLL_SECONDS = 1.0
PAGE = 20_000

# Origins without a scan of the whole log: one index probe per origin.
ORIGINS = """
WITH RECURSIVE o AS (
    (SELECT origin FROM change_log ORDER BY origin LIMIT 1)
    UNION ALL
    SELECT (SELECT c.origin FROM change_log c WHERE c.origin > o.origin
            ORDER BY c.origin LIMIT 1)
    FROM o WHERE o.origin IS NOT NULL
)
SELECT origin FROM o WHERE origin IS NOT NULL
"""
# An upsert held without its data (it reached this node redacted) is nothing to apply:
# its type is sent to the index as "" so that only the seq moves on.
_AFTER = """
SELECT c.seq, CASE WHEN c.op = 'upsert' AND c.data IS NULL THEN '' ELSE c.type END AS type,
       c.record_id,
       CASE WHEN c.type = ANY($3::text[]) AND (c.type <> $5 OR c.recorded_at >= $6)
            THEN c.data END AS data,
       r.positions
FROM change_log c
LEFT JOIN contact_reports r ON c.type = $5 AND r.id = c.record_id
WHERE c.origin = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $4
"""
# The ledger's entries up to a snapshot's seq: an index on a snapshot starts after those
# seqs, and the ledger in memory needs them. The types (LEDGER_TYPES) are written out as
# the partial index change_log_ledger (migration 0017) names them, so that the planner
# reads them through it: a parameter could not be proven to match its predicate.
LEDGER_UPTO = """
SELECT c.seq, CASE WHEN c.op = 'upsert' AND c.data IS NULL THEN '' ELSE c.type END AS type,
       c.record_id, CASE WHEN c.type <> $3 OR c.recorded_at >= $4 THEN c.data END AS data,
       r.positions
FROM change_log c
LEFT JOIN contact_reports r ON c.type = $3 AND r.id = c.record_id
WHERE c.type IN ('contact_agreement', 'contact_report')
  AND c.origin = $1 AND c.seq > $2 AND c.seq <= $5
ORDER BY c.seq LIMIT $6
"""
_decode = msgspec.json.Decoder(dict[str, Any] | None)


class SharedHead:
    """The node's latest own seq, in a small file every worker of the node maps."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < 8:
            os.ftruncate(self._fd, 8)
        self._map = mmap.mmap(self._fd, 8)

    def read(self) -> int:
        value: int = struct.unpack_from("<q", self._map)[0]
        return value

    def publish(self, seq: int) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if seq > self.read():
                struct.pack_into("<q", self._map, 0, seq)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class IndexFeed:
    def __init__(self, pool: asyncpg.Pool, index: TraceIndex, node_id: str,
                 head: SharedHead | None = None, ledger: LedgerMemory | None = None) -> None:
        self.pool = pool
        self.index = index
        # The contact ledger's recent counts ride on the same tail (registry/ledger/memory.py).
        self.ledger = ledger
        self.node_id = node_id
        self.head = head
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    async def _pull(self, conn: Connection, origin: str, index: TraceIndex | None = None,
                    ledger_after: dict[str, int] | None = None) -> int:
        """Apply every entry of `origin` after the last one applied; returns how many.

        `index`: another index than this feed's (one being brought up to replace it), to
        which the ledger's entries are given only after `ledger_after`'s seqs (the ledger
        has had those already)."""
        applied = 0
        ledger = self.ledger
        index = self.index if index is None else index
        types = [*TRACE_TYPES, *LEDGER_TYPES] if ledger is not None else list(TRACE_TYPES)
        logged_since = datetime.fromtimestamp(ledger.logged_since if ledger is not None else 0,
                                              UTC)
        counted_after = (ledger_after or {}).get(origin, 0)
        while True:
            after = index.seqs.get(origin, 0)
            rows = await conn.fetch(_AFTER, origin, after, types, PAGE, REPORT, logged_since)
            apply, seqs = index.apply, index.seqs
            for seq, type, record_id, data, counted in rows:
                try:
                    if type in LEDGER_TYPES:
                        if ledger is not None and seq > counted_after:
                            ledger.apply(type, record_id, data, counted)
                        seqs[origin] = seq  # nothing a trace answer rests on changed
                        continue
                    apply(origin, seq, type, record_id,
                          None if data is None else _decode.decode(data))
                except Exception:
                    # One malformed entry must not stop the index: skip it, loudly.
                    log.error("trace_entry_skipped", origin=origin, seq=seq, type=type,
                              exc_info=True)
                    index.seqs[origin] = seq
            applied += len(rows)
            if len(rows) < PAGE:
                return applied

    async def prime_ledger(self) -> int:
        """Give the ledger the entries of its types that the index's snapshot covers (the
        catch-up starts after them); returns how many."""
        ledger = self.ledger
        if ledger is None:
            return 0
        logged_since = datetime.fromtimestamp(ledger.logged_since, UTC)
        given = 0
        async with self.pool.acquire() as conn, self._lock:  # the connection first, as above
            for origin, upto in self.index.base.small.seqs.items():
                after = 0
                while True:
                    rows = await conn.fetch(LEDGER_UPTO, origin, after, REPORT,
                                            logged_since, upto, PAGE)
                    for seq, type, record_id, data, counted in rows:
                        if type:  # not an entry held without its data
                            ledger.apply(type, record_id, data, counted)
                        after = seq
                    given += len(rows)
                    if len(rows) < PAGE:
                        break
        return given

    async def catch_up(self, origin: str | None = None) -> int:
        """Bring the index up to the log: of one origin, or of all of them."""
        # The connection before the lock, always: a holder of the lock never waits for the
        # pool, so a request holding a connection may wait for the lock (catch_up_on).
        async with self.pool.acquire() as conn:
            return await self.catch_up_on(conn, origin)

    async def catch_up_on(self, conn: Connection, origin: str | None = None) -> int:
        """catch_up() on a connection the caller holds (within its transaction)."""
        async with self._lock:
            origins = [origin] if origin else [r["origin"] for r in await conn.fetch(ORIGINS)]
            return sum([await self._pull(conn, o) for o in origins])

    async def replace(self, fresh: TraceIndex) -> int:
        """Bring `fresh` (an index on a newer snapshot) up to the log and answer from it
        from then on: under the lock, so that no entry falls between the two."""
        async with self.pool.acquire() as conn, self._lock:
            origins = [r["origin"] for r in await conn.fetch(ORIGINS)]
            for origin in origins:
                await self._pull(conn, origin)  # the ledger is current up to here
            counted = dict(self.index.seqs)
            applied = sum([await self._pull(conn, o, fresh, counted) for o in origins])
            self.index = fresh
            return applied

    async def recent_calls(self, conn: Connection) -> HoldsNone:
        """The ledger memory brought up to the log on `conn` (which holds the append lock,
        so nothing is logged meanwhile): what it says of the debtor-days it holds."""
        assert self.ledger is not None
        await self.catch_up_on(conn)
        return self.ledger.holds_none

    async def ensure_current(self) -> None:
        """Before a trace: catch up when another worker has published a newer own seq.

        Should the database be out of reach, the trace is still answered from the index
        (its checkpoint says how current it is) rather than failed.
        """
        if self.head is not None and self.head.read() > self.index.seqs.get(self.node_id, 0):
            try:
                await self.catch_up(self.node_id)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("trace_catch_up_failed", exc_info=True)

    async def after_write(self) -> None:
        """After this worker's write: apply it here and tell the other workers its seq.

        The write has committed whatever happens here; a failure only delays its
        visibility until the tail catches up.
        """
        try:
            await self.catch_up(self.node_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("trace_catch_up_failed", exc_info=True)
            return
        if self.head is not None:
            self.head.publish(self.index.seqs.get(self.node_id, 0))

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def run(self, dsn: str) -> None:
        """Tail the log for ever: on every notice, and every POLL_SECONDS regardless."""
        while True:
            listener: asyncpg.Connection | None = None
            try:
                listener = await connect(dsn, seconds=POLL_SECONDS * 5)
                await listener.add_listener(CHANNEL, self._notified)
                await self.catch_up()
                while not listener.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                    self._wake.clear()
                    await self.catch_up()
                    if self.ledger is not None:
                        self.ledger.forget_before(int(time.time()))
            except Exception:
                # Whatever went wrong, the tail must go on: reconnect and catch up.
                log.warning("trace_feed_reconnecting", exc_info=True)
                await asyncio.sleep(POLL_SECONDS)
            finally:
                # terminate, not close: a close waits for an answer a frozen server never gives
                if listener is not None:
                    listener.terminate()
