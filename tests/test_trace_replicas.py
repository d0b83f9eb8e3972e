"""Records of another node combine with local ones in one decision: a telecom node's carrier
supplies a number to a finance-node agency, which confirms it here; the peer's entries,
stored in the local change log as federation stores them, reach the index (API.md §8)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec

from registry import changelog, record_types, replicas
from registry.changelog import GENESIS, Change
from tests.support.client import SignedClient
from tests.support.whitelist import cast, confirm, entrust, file, trace

PEER = "node-telecom"


async def store_peer_changes(db: asyncpg.Connection, changes: list[Change]) -> None:
    """What the feed consumer does with a peer's verified entries: log and apply them."""
    head = await db.fetchrow("SELECT seq, hash FROM change_log WHERE origin = $1"
                             " ORDER BY seq DESC LIMIT 1", PEER)
    after_seq, after_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    async with db.transaction():
        entries = changelog.chain(PEER, after_seq, after_hash, changes)
        await changelog.store(db, entries)
        for e in entries:
            assert await replicas.apply(db, e.type, e.origin, e.id, raw(e.data))


def raw(data: dict[str, Any] | None) -> bytes | None:
    """Data as a change carries it: its JSON bytes (None for a tombstone)."""
    return None if data is None else msgspec.json.encode(data)


def peer_member(member_id: str, kind: str, status: str = "active") -> Change:
    data: dict[str, Any] = {
        "id": member_id, "origin": PEER, "kind": kind, "subtype": None, "name": "远方电信",
        "uscc": "91110000MA0000000X", "contact": {"phone": None, "email": None,
                                                  "address": None},
        "complaints": {"phone": None, "email": None, "address": None, "process": None},
        "status": status, "created_at": "2026-01-01T00:00:00+08:00", "history": []}
    return Change("member", member_id, "upsert", data)


async def eventually(check: Any, seconds: float = 3.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def test_a_peer_supply_confirmed_and_filed_here(operator: SignedClient,
                                                      db: asyncpg.Connection) -> None:
    c = await cast(operator)
    value, resource_id = "+8613300133000", "r_peer0001"
    await store_peer_changes(db, [
        peer_member("m_peer_carrier", "carrier"),
        Change("resource", resource_id, "upsert", {
            "id": resource_id, "kind": "voice", "value": value,
            "supplier_id": "m_peer_carrier", "assignee_id": c.agency.id,
            "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": None,
            "created_at": "2026-01-01T00:00:00+08:00"}),
    ])

    async def reason() -> str:
        return str((await trace(c.lender, value))["reason"])

    # Peer entries arrive without a write of this node: the index's poll finds them.
    assert await eventually(lambda: _is(reason, "unconfirmed"))
    await confirm(c.agency, resource_id)  # a record of this node, naming the peer's resource
    await file(c.lender, resource_id, (await entrust(c.lender, c.agency))["id"])
    result = await trace(c.lender, value)
    assert result["traceable"] is True
    assert result["supplier"]["id"] == "m_peer_carrier"
    got = await c.agency.get(f"/v1/resources/{resource_id}")
    assert got.json()["origin"] == PEER
    assert got.json()["confirmed"] is True

    # The peer suspends its carrier; the trace follows.
    await store_peer_changes(db, [peer_member("m_peer_carrier", "carrier", "suspended")])
    assert await eventually(lambda: _is(reason, "supplier_inactive"))
    # Applying the same peer entries again changes nothing.
    rows = await db.fetch("SELECT type, record_id, data FROM change_log WHERE origin = $1",
                          PEER)
    for row in rows:
        await replicas.apply(db, row["type"], PEER, row["record_id"],
                             None if row["data"] is None else row["data"].encode())
    assert await db.fetchval("SELECT count(*) FROM resources WHERE id = $1", resource_id) == 1


async def _is(reason: Any, wanted: str) -> bool:
    return bool(await reason() == wanted)


async def test_appliers_hold_every_trace_record_type(db: asyncpg.Connection) -> None:
    for record_type in ("entrustment", "resource", "resource_confirmation",
                        "resource_filing"):
        assert record_type in record_types.BY_NAME
    await replicas.apply(db, "entrustment", PEER, "e_peer", raw({
        "id": "e_peer", "lender_id": "m_l", "agency_id": "m_a", "starts_on": "2026-01-01",
        "ends_on": "2026-12-31", "subcontracting_allowed": False, "parent_id": None,
        "ended": False, "ended_at": None, "end_reason": None,
        "created_at": "2026-01-01T00:00:00+08:00"}))
    await replicas.apply(db, "resource_filing", PEER, "rf:r_x:e_peer", raw({
        "resource_id": "r_x", "kind": "voice", "value": "+8613300133001",
        "entrustment_id": "e_peer", "lender_id": "m_l", "filed_at": "2026-01-02T00:00:00Z"}))
    assert await db.fetchval("SELECT origin FROM entrustments WHERE id = 'e_peer'") == PEER
    await replicas.apply(db, "resource_filing", PEER, "rf:r_x:e_peer", None)
    await replicas.apply(db, "entrustment", PEER, "e_peer", None)
    assert await db.fetchval("SELECT count(*) FROM entrustments WHERE id = 'e_peer'") == 0
    assert await db.fetchval("SELECT count(*) FROM resource_filings WHERE id = 'rf:r_x:e_peer'"
                             ) == 0


async def test_a_malformed_peer_entry_is_skipped_not_fatal(operator: SignedClient,
                                                          db: asyncpg.Connection) -> None:
    c = await cast(operator)
    head = await db.fetchrow("SELECT seq, hash FROM change_log WHERE origin = $1"
                             " ORDER BY seq DESC LIMIT 1", PEER)
    after_seq, after_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    broken = Change("resource", "r_broken", "upsert", {"kind": "voice"})  # no value
    fine = Change("resource", "r_fine", "upsert", {
        "id": "r_fine", "kind": "voice", "value": "+8613300133009",
        "supplier_id": "m_peer_carrier", "assignee_id": c.agency.id,
        "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": None})
    async with db.transaction():
        await changelog.store(db, changelog.chain(PEER, after_seq, after_hash,
                                                  [broken, fine]))

    async def registered() -> bool:
        return bool((await trace(c.lender, "+8613300133009"))["reason"] != "unregistered")

    assert await eventually(registered)


def _peer_supply(resource_id: str, value: str, assignee_id: str) -> Change:
    return Change("resource", resource_id, "upsert", {
        "id": resource_id, "kind": "voice", "value": value, "supplier_id": "m_peer_carrier",
        "assignee_id": assignee_id, "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_to": None, "created_at": "2026-01-01T00:00:00+08:00"})


async def test_a_redacted_peer_entry_withdraws_nothing_from_the_index(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    """An upsert held without its data (the peer's policy redacted it) is not a delete."""
    c = await cast(operator)
    held, later = ("+8613300133071", "r_peer_held"), ("+8613300133072", "r_peer_later")
    await store_peer_changes(db, [peer_member("m_peer_carrier", "carrier"),
                                  _peer_supply(held[1], held[0], c.agency.id)])

    async def reason_of(value: str) -> str:
        return str((await trace(c.lender, value))["reason"])

    assert await eventually(lambda: _is(lambda: reason_of(held[0]), "unconfirmed"))
    head = await db.fetchrow("SELECT seq, hash FROM change_log WHERE origin = $1"
                             " ORDER BY seq DESC LIMIT 1", PEER)
    assert head is not None
    (again,) = changelog.chain(PEER, head["seq"], head["hash"],
                               [_peer_supply(held[1], held[0], c.agency.id)])
    async with db.transaction():
        await changelog.store(db, [msgspec.structs.replace(again, data=None)])
    await store_peer_changes(db, [_peer_supply(later[1], later[0], c.agency.id)])
    # Once the index has passed the redacted entry, the supply it named still stands.
    assert await eventually(lambda: _is(lambda: reason_of(later[0]), "unconfirmed"))
    assert await reason_of(held[0]) == "unconfirmed"
