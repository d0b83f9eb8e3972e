"""The node's workers stand on one shared trace-index snapshot (api/trace_snapshot.py):
built once under the lock and reused, caught up from the log after its seqs, rebuilt and
never used when it is not whole, and moved onto when a newer one is written; the answers
are the live node's throughout (docs/trace-snapshot.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from api.app import create_app
from api.settings import Settings
from api.trace_state import TraceState, trace_state
from registry.trace import snapshot
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.ledger import allowance, call, ledger_cast, report, shanghai_day
from tests.support.served import served_registry
from tests.support.whitelist import (
    IN_WINDOW,
    Cast,
    cast,
    confirm,
    supply,
    trace,
    traceable_number,
)
from tests.test_trace_workers import Remote


def numbers(scene_no: int) -> list[str]:
    """Four numbers of a test's own (the tests of this module share a database)."""
    return [f"+86139111{scene_no}000{n}" for n in (1, 2, 3, 9)]


@asynccontextmanager
async def worker(settings: Settings, runtime: Path, operator: SignedClient,
                 **changed: Any) -> AsyncIterator[tuple[SignedClient, TraceState]]:
    """Another worker of the test app's node (its secrets: the same debtor hashes) whose
    snapshot is in `runtime`, with snapshots at any size."""
    app = create_app(msgspec.structs.replace(
        settings, runtime_dir=runtime, trace_snapshot_min_entries=0, **changed))
    async with AsyncTestClient(app) as client:
        yield SignedClient(client, operator.signer), trace_state(app.state.node)


async def same_as_live(operator: SignedClient, shared: SignedClient, values: list[str]
                       ) -> None:
    for value in values:
        assert await trace(shared, value) == await trace(operator, value), value


async def scene(operator: SignedClient, values: list[str]) -> Cast:
    c = await cast(operator)
    await traceable_number(c, values[0])
    made = await supply(c.carrier, c.lender, values[1])
    await confirm(c.lender, made["id"])
    await supply(c.carrier, c.agency, values[2])
    return c


async def test_workers_stand_on_one_snapshot_and_catch_up_after_it(
    settings: Settings, operator: SignedClient, tmp_path: Path,
) -> None:
    c = await scene(operator, values := numbers(1))
    path = tmp_path / "trace-index.snapshot"
    async with worker(settings, tmp_path, operator) as (first, state):
        assert path.exists()
        assert len(state.index.base.slot_rid) >= 3  # the resources, from the mapped file
        await same_as_live(operator, first, values)
        written = path.stat().st_ino
        # A write after the snapshot: in the worker's own delta, never in the file.
        await supply(c.carrier, c.agency, values[3])
        with capture_logs() as logs:
            async with worker(settings, tmp_path, operator) as (second, again):
                assert path.stat().st_ino == written  # reused, not built again
                assert again.index.base.small.seqs == state.index.base.small.seqs
                await same_as_live(operator, second, values)
                assert (await trace(second, values[3]))["reason"] == "unconfirmed"
        events = [entry["event"] for entry in logs]
        assert "trace_snapshot_mapped" in events
        assert "trace_snapshot_corrupt" not in events


def _spoiled(good: bytes) -> dict[str, bytes]:
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    return {"altered": bytes(flipped), "truncated": good[: len(good) - 100],
            "wrong magic": b"NOTANIDX" + good[8:]}


async def test_a_snapshot_not_whole_is_set_aside_and_rebuilt_never_used(
    settings: Settings, operator: SignedClient, tmp_path: Path,
) -> None:
    await scene(operator, values := numbers(2))
    path = tmp_path / "trace-index.snapshot"
    async with worker(settings, tmp_path, operator):
        pass
    good = path.read_bytes()
    for name, content in _spoiled(good).items():
        path.write_bytes(content)
        with capture_logs() as logs:
            async with worker(settings, tmp_path, operator) as (shared, state):
                await same_as_live(operator, shared, values)
                assert len(state.index.base.slot_rid) > 0, name  # on the rebuilt one
        corrupt = [entry for entry in logs if entry["event"] == "trace_snapshot_corrupt"]
        assert len(corrupt) == 1, (name, logs)
        assert path.with_name(path.name + ".corrupt").read_bytes() == content
        snapshot.read(path)  # whole again


async def test_a_worker_moves_onto_a_rebuilt_snapshot(
    settings: Settings, operator: SignedClient, tmp_path: Path,
) -> None:
    c = await scene(operator, values := numbers(3))
    path = tmp_path / "trace-index.snapshot"
    async with worker(settings, tmp_path, operator, trace_snapshot_rebuild_after=1,
                      trace_snapshot_check_seconds=0.1) as (shared, state):
        first_base = state.index.base
        made = await supply(c.carrier, c.agency, values[3])
        await confirm(c.agency, made["id"])
        deadline = time.monotonic() + 20
        while state.index.base is first_base:
            assert time.monotonic() < deadline, "no rebuilt snapshot was stood on"
            await asyncio.sleep(0.1)
        assert snapshot.read(path).base.small.seqs == state.index.base.small.seqs
        await same_as_live(operator, shared, values)
        assert (await trace(shared, values[3]))["reason"] == "no_principal"


async def _first_answers(base: str, carrier: SignedClient, values: list[str]
                         ) -> list[dict[str, Any]]:
    """The first batch answers of a node just started, each on a fresh connection (so
    that both workers answer some), every value traced at once."""
    remote = Remote(base, carrier)
    answers = []
    for _ in range(6):
        answer = await remote.send("POST", "/v1/trace/", {"values": values, "at": IN_WINDOW})
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    return answers


async def test_workers_started_during_a_burst_answer_every_write_before_their_first(
    database_url: str, operator: SignedClient, db: asyncpg.Connection, tmp_path: Path,
) -> None:
    c = await cast(operator)
    acked: list[tuple[str, str]] = []  # (value, resource id) as the writes were answered
    stop = asyncio.Event()

    async def burst() -> None:
        n = 0
        while not stop.is_set() and n < 1000:  # a batch traces them all at once
            value = f"+86136008{n:05d}"
            acked.append((value, (await supply(c.carrier, c.agency, value))["id"]))
            n += 1
            await asyncio.sleep(0.01)  # a burst, leaving the machine to the starting node

    writing = asyncio.create_task(burst())
    try:
        for start in range(2):  # the first builds the snapshot, the next stands on it
            for _ in range(600):  # some writes before the start, at most 30 s
                if len(acked) >= 30 * (start + 1):
                    break
                await asyncio.sleep(0.05)
            made_before_start = len(acked)
            (tmp_path / f"start{start}").mkdir()
            node = served_registry(tmp_path / f"start{start}", database_url=database_url,
                                   node_id=NODE_ID, workers=2, data_dir=tmp_path / "data",
                                   ready_within=60,
                                   env={"REGISTRY_TRACE_SNAPSHOT_MIN_ENTRIES": "0"})
            served = await asyncio.to_thread(node.__enter__)
            try:
                assert len(acked) > made_before_start  # writes went on while it started
                values = [value for value, _ in acked]
                seq_of: dict[str, int] = {row["record_id"]: row["seq"] for row in await db.fetch(
                    "SELECT record_id, seq FROM change_log WHERE origin = $1 AND type ="
                    " 'resource' AND record_id = ANY($2)", NODE_ID, [r for _, r in acked])}
                for answer in await _first_answers(served.base, c.carrier, values):
                    results = answer["results"]
                    seen = results[0]["checkpoint"]["seq"]
                    for (value, rid), result in zip(acked, results, strict=False):
                        if seq_of[rid] <= seen:  # the answer says it stands on this write
                            assert result["reason"] == "unconfirmed", (value, seen)
                    assert all(r["reason"] == "unconfirmed"
                               for r in results[:made_before_start]), start
            finally:
                await asyncio.to_thread(node.__exit__, None, None, None)
            served_log = served.log.read_text(errors="replace")
            assert served_log.count("trace_snapshot_mapped") >= 2, served_log[-3000:]
            assert "trace_snapshot_corrupt" not in served_log
            assert ("trace_snapshot_built" in served_log) is (start == 0)
    finally:
        stop.set()
        await writing
    assert len(acked) > 60


async def test_a_worker_on_a_snapshot_counts_the_calls_the_snapshot_covers(
    settings: Settings, operator: SignedClient, tmp_path: Path,
) -> None:
    # The contact ledger in memory rides on the index's feed, which starts after the
    # snapshot's seqs: what the snapshot covers must reach the ledger all the same.
    c = await ledger_cast(operator, "+8613300100")
    caller, today = c.numbers[c.agency1.id], shanghai_day(0)
    await report(c.carrier, call(caller, f"{today}T00:01:00+08:00"))
    async with worker(settings, tmp_path, operator) as (shared, state):
        assert state.index.base.small.seqs[NODE_ID] > 0
        carrier = SignedClient(shared.client, c.carrier.signer)
        answer = await allowance(carrier, caller, f"{today}T09:00:00+08:00")
        assert answer["principals"][0]["connected_today"] == 1


async def test_a_worker_whose_snapshot_cannot_be_built_builds_its_own(
    settings: Settings, operator: SignedClient, tmp_path: Path,
) -> None:
    await scene(operator, values := numbers(5))
    # Directories where the snapshot and its set-aside copy go: nothing can be renamed
    # onto either, so the builder fails (as on a full disk or a read-only mount).
    for name in ("trace-index.snapshot", "trace-index.snapshot.corrupt"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "in the way").write_bytes(b"")
    with capture_logs() as logs:
        async with worker(settings, tmp_path, operator) as (shared, state):
            assert len(state.index.base.slot_rid) == 0  # on no snapshot: from the log
            await same_as_live(operator, shared, values)
    assert "trace_snapshot_build_failed" in [entry["event"] for entry in logs]
