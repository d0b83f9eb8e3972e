"""The node's shared trace index: one snapshot file that every worker maps read-only
(registry/trace/snapshot.py) and stands its index on, plus its own delta since.

One worker at a time builds the snapshot, under a PostgreSQL advisory lock, in a child
process (`python -m api.trace_snapshot PATH`): the builder's transient memory (the whole
index as Python objects, at ten million numbers some gigabytes) is never a worker's, and
the worker's event loop goes on answering. Workers that find no snapshot wait for the lock
and then reuse what the holder built; a snapshot that fails its checks is logged, set
aside and rebuilt, never used. A worker whose delta has grown past
`trace_snapshot_rebuild_after` entries rebuilds it in the background, and every worker
that sees a newer file stands on it (docs/trace-snapshot.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import structlog

from api.settings import Settings
from registry.db import close_pool, create_pool
from registry.trace import snapshot
from registry.trace.feed import ORIGINS, IndexFeed
from registry.trace.index import TraceIndex

log = structlog.get_logger("api.trace")
_BUILD_LOCK = 0x5452_4958  # "TRIX": one builder of the node's snapshot at a time
_LOCK_POLL_SECONDS = 0.2
_BUILD_SECONDS = 3600.0  # a child that has not finished by then is stuck, not slow
# How many entries the log holds: the sum of each origin's last seq (index probes only).
_LOG_SIZE = ("SELECT coalesce(sum((SELECT max(c.seq) FROM change_log c"  # noqa: S608 - constants
             " WHERE c.origin = o.origin)), 0) FROM (" + ORIGINS + ") o")


class BuildFailed(Exception):
    pass


def read_valid(path: Path) -> snapshot.Snapshot | None:
    """The snapshot at `path` when there is one and it is whole; a bad one is set aside."""
    try:
        found = snapshot.read(path)
    except FileNotFoundError:
        return None
    except (snapshot.Corrupt, OSError) as bad:
        log.error("trace_snapshot_corrupt", path=str(path), reason=str(bad))
        with contextlib.suppress(OSError):
            snapshot.set_aside(path)
        return None
    log.info("trace_snapshot_mapped", bytes=found.size, resources=len(found.base.slot_rid),
             digest_seconds=round(found.verify_seconds, 3))
    return found


def identity(path: Path) -> tuple[int, int] | None:
    """What tells one written snapshot from the next (each is a new file, renamed)."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns)


@contextlib.asynccontextmanager
async def build_lock(pool: asyncpg.Pool, *, wait: bool) -> AsyncIterator[bool]:
    """The node's builder lock, held on one connection for the block; `wait=False` gives
    False at once when another worker holds it."""
    async with pool.acquire() as conn:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _BUILD_LOCK):
            if not wait:
                yield False
                return
            await asyncio.sleep(_LOCK_POLL_SECONDS)
        try:
            yield True
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _BUILD_LOCK)


async def build_in_child(settings: Settings, path: Path) -> None:
    """Build the snapshot at `path` in a child process (which lowers its own priority);
    the caller holds the builder lock."""
    assert settings.database_url is not None
    for left in path.parent.glob(f".{path.name}.*.tmp"):
        left.unlink(missing_ok=True)  # of a builder killed mid-write: no one writes it now
    # The DSN goes by the environment, never the command line that `ps` shows.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.trace_snapshot", str(path),
        env={**os.environ, "DATABASE_URL": settings.database_url})
    try:
        code = await asyncio.wait_for(child.wait(), _BUILD_SECONDS)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    if code != 0:
        raise BuildFailed(f"the snapshot builder exited with {code}")


async def open_index(pool: asyncpg.Pool, settings: Settings) -> TraceIndex:
    """A worker's index at start: on the node's snapshot (built first when there is none
    and the log is large enough to want one), else empty, to be caught up by the feed."""
    path = settings.trace_snapshot_file
    found = read_valid(path)
    if found is None:
        async with pool.acquire() as conn:
            entries = await conn.fetchval(_LOG_SIZE)
        if entries >= settings.trace_snapshot_min_entries:
            async with build_lock(pool, wait=True):
                found = read_valid(path)  # another worker may have built it meanwhile
                if found is None:
                    found = await _build(settings, path)
    return TraceIndex(None if found is None else found.base)


async def _build(settings: Settings, path: Path) -> snapshot.Snapshot | None:
    try:
        await build_in_child(settings, path)
    except (BuildFailed, OSError, TimeoutError) as failed:
        # The worker still starts: it builds its own index from the log, as before.
        log.error("trace_snapshot_build_failed", reason=str(failed))
        return None
    return read_valid(path)


async def rebuild_if_due(pool: asyncpg.Pool, settings: Settings, index: TraceIndex
                         ) -> bool | None:
    """Rebuild the snapshot when this worker's delta has grown: True when rebuilt (or
    found rebuilt), False when the build failed, None when not due or another worker
    holds the lock."""
    delta = index.version - index.base.small.version
    if delta < settings.trace_snapshot_rebuild_after:
        return None
    async with build_lock(pool, wait=False) as held:
        if not held:
            return None
        path = settings.trace_snapshot_file
        found = read_valid(path) if identity(path) is not None else None
        if found is not None and index.version - found.base.small.version < (
                settings.trace_snapshot_rebuild_after):
            return True  # rebuilt by another worker since this one looked
        log.info("trace_snapshot_rebuilding", delta=delta)
        return await _build(settings, path) is not None


async def _build_here(path: Path) -> None:
    """The child: the previous snapshot (when whole) and the log after it, frozen."""
    os.nice(5)  # the workers' answers come first
    pool = await create_pool(os.environ["DATABASE_URL"], 1, 2, seconds=600.0)
    try:
        previous = read_valid(path)
        index = TraceIndex(None if previous is None else previous.base)
        applied = await IndexFeed(pool, index, "").catch_up()
        size = snapshot.write(path, index.freeze())
        log.info("trace_snapshot_built", entries=applied, resources=len(index), bytes=size,
                 seqs=index.seqs)
    finally:
        await close_pool(pool)


if __name__ == "__main__":
    from api.logging import configure_logging

    configure_logging(stream="stderr")
    asyncio.run(_build_here(Path(sys.argv[1])))
