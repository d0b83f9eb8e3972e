"""A peer speaks only for its own records (API.md §8): a page of its own, truly signed log
that names a record held here from another origin, or a new record as the act of a member
at home here, changes nothing here and stops that peer with a recorded fault.

Every record type of registry/record_types.py, as an altered upsert, as a tombstone and
as a redacted upsert (which the trace index would otherwise read as a withdrawal).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest

from registry.canonical import canonical
from registry.changelog import Change, chain
from registry.db import Connection, create_pool
from registry.record_types import BY_NAME, TABLE
from registry.signing_keys import load_private_key, public_jwk_of
from sync import consumer
from sync.checkpoint import sign
from sync.errors import SyncFault
from sync.peers import clear_fault, get_peer
from sync.puller import consume
from sync.wire import NULL, Feed, WireChange
from tests.support.database import TemplateDatabases
from tests.support.every_record import EveryRecord, make_every_record
from tests.support.nodes import RunningNode, nodes, pair

PEER = "node-fin"
FORGED_AT = "2020-01-01T00:00:00Z"
# What a forger would change in each type's record (any change would do: even the very
# record as held must be refused, since it is not the peer's to send).
ALTERED: dict[str, dict[str, Any]] = {
    "member": {"status": "removed",
               "history": [{"status": "removed", "reason": "forged", "at": FORGED_AT,
                            "by": "x"}]},
    "entrustment": {"ended": True, "ended_at": FORGED_AT, "end_reason": "forged"},
    "resource": {"valid_to": FORGED_AT},
    "resource_confirmation": {"confirmed_at": FORGED_AT},
    "resource_filing": {"filed_at": FORGED_AT},
    "collector_filing": {"status": "revoked"},
    "blackmarket_group": {"name": "forged", "indicators": []},
    "blackmarket_sighting": {"tlp": "red"},
    "risk_event": {"summary": "forged"},
    "contact_report": {"durations": [0]},
    "contact_agreement": {"daily_limit": 99},
    "entrustment_commitment": {"commitments": ["confidentiality"]},
    "agency_evaluation": {"grade": "A"},
    "rectification": {"status": "closed", "outcome": "rectified", "closed_at": FORGED_AT},
    "complaint": {"summary": "forged"},
    "complaint_response": {"summary": "forged"},
}


@pytest.fixture(scope="module")
async def fin_and_tel(
    databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningNode, RunningNode]]:
    # The telecom node does not pull by itself: each test hands it a page.
    async with nodes(databases, tmp_path_factory.mktemp("authority"), PEER, "node-tel",
                     sync_enabled=False) as (fin, tel):
        await pair(fin, tel)
        yield fin, tel


@pytest.fixture(scope="module")
async def local(fin_and_tel: tuple[RunningNode, RunningNode]) -> EveryRecord:
    return await make_every_record(fin_and_tel[1].operator)


@pytest.fixture(scope="module")
async def tel_pool(fin_and_tel: tuple[RunningNode, RunningNode]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fin_and_tel[1].dsn, 1, 2)
    yield pool
    await pool.close()


async def _held(conn: Connection) -> str:
    """Every row of every record table and its dependents, and the peer's chain here."""
    tables = {rt.table for rt in TABLE} | {t for rt in TABLE for t, _ in rt.dependents}
    rows = {t: sorted(json.dumps(r[0], sort_keys=True) for r in await conn.fetch(
        f"SELECT to_jsonb(x) - 'updated_at' FROM {t} x")) for t in sorted(tables)}
    rows["change_log"] = [str(await conn.fetchval(
        "SELECT count(*) FROM change_log WHERE origin = $1", PEER))]
    return json.dumps(rows)


async def _logged(conn: Connection, record_type: str, record_id: str) -> dict[str, Any]:
    data = await conn.fetchval(
        "SELECT data FROM change_log WHERE type = $1 AND record_id = $2 ORDER BY seq DESC"
        " LIMIT 1", record_type, record_id)
    found: dict[str, Any] = json.loads(data)
    return found


def _signed_page(fin: RunningNode, after: tuple[int, str], change: Change,
                 redacted: bool) -> Feed:
    """A page of the peer's own log, chained and signed with the peer's real node key."""
    key = load_private_key(fin.settings.data_dir / "node_key.pem")
    (entry,) = chain(PEER, after[0], after[1], [change])
    data = NULL if redacted or entry.data is None else msgspec.Raw(canonical(entry.data))
    wire = WireChange(entry.seq, PEER, entry.type, entry.id, entry.op, entry.data_hash,
                      entry.prev, entry.hash, data, redacted)
    cp = sign(key, public_jwk_of(key)["kid"], node=PEER, origin=PEER, seq=entry.seq,
              hash=entry.hash)
    return Feed([wire], cp, entry.seq)


async def _refused(fin: RunningNode, tel: RunningNode, pool: asyncpg.Pool, change: Change,
                   redacted: bool = False) -> str:
    async with pool.acquire() as conn:
        before = await _held(conn)
        peer = await get_peer(conn, PEER)
        state = await consumer.peer_state(conn, PEER)
    page = _signed_page(fin, (state.applied_seq, state.applied_hash), change, redacted)
    with pytest.raises(SyncFault):
        await consume(pool, peer, page, state)
    status = (await tel.operator.get("/v1/sync/status")).json()
    (shown,) = [p for p in status["peers"] if p["node_id"] == PEER]
    async with pool.acquire() as conn:
        assert await _held(conn) == before, "a refused page changed something here"
        await clear_fault(conn, PEER)
    assert shown["fault"], status
    return str(shown["fault"])


@pytest.mark.parametrize("record_type", sorted(BY_NAME))
@pytest.mark.parametrize("op", ["altered", "tombstone", "redacted"])
async def test_a_peer_naming_a_local_record_changes_nothing_and_faults(
    fin_and_tel: tuple[RunningNode, RunningNode], local: EveryRecord, tel_pool: asyncpg.Pool,
    record_type: str, op: str,
) -> None:
    fin, tel = fin_and_tel
    record_id = local.ids[record_type][0]
    if op == "tombstone":
        change = Change(record_type, record_id, "delete", None)
    else:
        async with tel_pool.acquire() as conn:
            data = await _logged(conn, record_type, record_id)
        change = Change(record_type, record_id, "upsert", {**data, **ALTERED[record_type]})
    fault = await _refused(fin, tel, tel_pool, change, redacted=op == "redacted")
    assert record_id in fault
    assert "node-tel" in fault


@pytest.mark.parametrize("record_type", sorted(n for n, rt in BY_NAME.items() if rt.author))
async def test_a_peer_cannot_log_an_act_of_a_member_at_home_here(
    fin_and_tel: tuple[RunningNode, RunningNode], local: EveryRecord, tel_pool: asyncpg.Pool,
    record_type: str,
) -> None:
    """A new record (an id never seen) naming a local member as its author."""
    fin, tel = fin_and_tel
    async with tel_pool.acquire() as conn:
        data = await _logged(conn, record_type, local.ids[record_type][0])
    author = BY_NAME[record_type].author
    assert author is not None
    assert data[author]
    fresh = f"forged-{record_type}"
    fault = await _refused(fin, tel, tel_pool,
                           Change(record_type, fresh, "upsert", {**data, "id": fresh}))
    assert data[author] in fault


async def test_the_peer_applies_its_own_records_after_a_resume(
    fin_and_tel: tuple[RunningNode, RunningNode], local: EveryRecord, tel_pool: asyncpg.Pool,
) -> None:
    from tests.support.factories import admit_member
    from tests.support.nodes import eventually

    fin, tel = fin_and_tel
    theirs = await admit_member(fin.operator, "lender", subtype="commercial_bank")
    key = load_private_key(tel.settings.data_dir / "node_key.pem")
    from sync.client import FeedClient

    client = FeedClient(fin.url, audience=PEER, issuer="node-tel", key=key,
                        kid=public_jwk_of(key)["kid"], http=fin.http)
    async with tel_pool.acquire() as conn:
        peer = await get_peer(conn, PEER)
        state = await consumer.peer_state(conn, PEER)
    assert await consume(tel_pool, peer, await client.changes(state.applied_seq, 100), state)

    async def held() -> bool:
        return bool(await tel.db.fetchval(
            "SELECT origin = $2 FROM members WHERE id = $1", theirs.id, PEER))

    assert await eventually(held)


@pytest.mark.parametrize("record_type", sorted(BY_NAME))
async def test_data_that_is_not_its_types_payload_is_a_fault(
    fin_and_tel: tuple[RunningNode, RunningNode], local: EveryRecord, tel_pool: asyncpg.Pool,
    record_type: str,
) -> None:
    """A verified change whose data is not a record of its type is refused, not a crash."""
    fin, tel = fin_and_tel
    fault = await _refused(fin, tel, tel_pool, Change(record_type, f"odd-{record_type}",
                                                      "upsert", {"id": [1, 2, 3]}))
    assert f"the data is not a {record_type}" in fault
