"""The table of record types is whole: every type logged is declared once, its payload
Struct is exactly what is logged, and what derives from the table agrees with it."""

from __future__ import annotations

import json

import asyncpg
import msgspec

from registry.canonical import canonical
from registry.record_types import BY_NAME, DEFAULT_PEER_TYPES, NAMES, TABLE, TRACE_TYPES
from registry.records import Peers, Reader
from registry.trace import index
from sync.peers import DEFAULT_SEND_TYPES
from tests.support.client import SignedClient
from tests.support.every_record import MADE, make_every_record


def test_each_type_is_declared_once_and_made_by_the_tests() -> None:
    assert len({rt.name for rt in TABLE}) == len(TABLE)
    assert len({rt.table for rt in TABLE}) == len(TABLE)
    # A new type needs a maker in tests/support/every_record.py (and so is covered by the
    # authority and feed-confidentiality tests).
    assert MADE == NAMES


def test_what_derives_from_the_table() -> None:
    assert set(index.TYPES) == TRACE_TYPES
    assert DEFAULT_SEND_TYPES == DEFAULT_PEER_TYPES == {
        rt.name for rt in TABLE if rt.peers is Peers.DEFAULT}
    # Intelligence and personal data reach no peer unless an operator says so.
    assert {"collector_filing", "risk_event", "blackmarket_group"}.isdisjoint(
        DEFAULT_PEER_TYPES)
    for rt in TABLE:
        assert issubclass(rt.payload, msgspec.Struct)
        assert rt.author is None or rt.author in rt.payload.__struct_fields__


def test_only_an_active_carrier_mirrors() -> None:
    assert Reader("m", "carrier", "active").mirrors
    for kind, status in (("carrier", "suspended"), ("carrier", "pending"),
                         ("lender", "active"), ("collection_agency", "active")):
        assert not Reader("m", kind, status).mirrors


async def test_every_declared_table_holds_records_by_id_and_origin(
    db: asyncpg.Connection,
) -> None:
    for rt in TABLE:
        columns = {r["column_name"] for r in await db.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1",
            rt.table)}
        assert {"id", "origin"} <= columns, rt.name
        for table, column in rt.dependents:
            assert await db.fetchval(
                "SELECT 1 FROM information_schema.columns WHERE table_name = $1"
                " AND column_name = $2", table, column), (rt.name, table)


async def test_every_logged_change_is_exactly_its_declared_payload(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    await make_every_record(operator)
    rows = await db.fetch("SELECT type, data FROM change_log WHERE data IS NOT NULL")
    assert {r["type"] for r in rows} == NAMES
    for row in rows:
        payload = BY_NAME[row["type"]].decode(row["data"])
        # Nothing is logged beside the Struct's fields, and nothing of them is lost.
        again = canonical(msgspec.to_builtins(payload))
        assert again == canonical(json.loads(row["data"])), row["type"]
