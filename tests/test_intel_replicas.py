"""Every intel write is in the change log, self-contained, and a peer's copy applies read-only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg

from registry import replicas
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id

PEER = "node-peer"


async def test_log_entries_rebuild_records_on_a_peer(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    agency = await admit_member(operator, "collection_agency")
    number = make_prc_id()
    filing = (await agency.post("/v1/collector-filings", filing_body(number))).json()
    await operator.post(f"/v1/collector-filings/{filing['id']}/review",
                        {"decision": "publish", "reason": "ok"})
    group = (await agency.post("/v1/blackmarket/groups", {
        "name": "停息挂账联盟", "category": "fake_debt_relief", "tlp": "amber",
        "indicators": [{"type": "domain", "value": "tingxi.example.cn"}]})).json()
    sighting = (await agency.post("/v1/blackmarket/sightings", {
        "type": "domain", "value": "tingxi.example.cn",
        "seen_at": datetime.now(UTC).isoformat()})).json()
    event = (await agency.post("/v1/risk-events", {
        "category": "other", "discovered_at": datetime.now(UTC).isoformat(),
        "summary": "测试"})).json()
    await agency.post(f"/v1/risk-events/{event['id']}/updates", {"summary": "后续"})

    latest = {}
    for row in await db.fetch(
        "SELECT type, record_id, data FROM change_log WHERE origin = 'node-test' ORDER BY seq"
    ):
        latest[(row["type"], row["record_id"])] = json.loads(row["data"])
    wanted = {("collector_filing", filing["id"]), ("blackmarket_group", group["id"]),
              ("blackmarket_sighting", sighting["id"]), ("risk_event", event["id"])}
    assert wanted <= set(latest)
    assert number not in json.dumps(latest[("collector_filing", filing["id"])])
    assert latest[("risk_event", event["id"])]["updates"][0]["summary"] == "后续"

    # Held as a peer's records: the peer's copies name a member of the peer's own (a peer
    # may log only its own members' acts).
    async with db.transaction():
        for (record_type, record_id), data in latest.items():
            if (record_type, record_id) in wanted:
                author = "filer_id" if record_type == "collector_filing" else "reporter_id"
                theirs = {**data, author: "m_peer_agency"}
                assert await replicas.apply(db, record_type, PEER, f"p-{record_id}",
                                            json.dumps(theirs).encode())
    copy = await db.fetchrow("SELECT origin, status, subject_hash FROM collector_filings"
                             " WHERE id = $1", f"p-{filing['id']}")
    assert copy is not None
    assert dict(copy) == {"origin": PEER, "status": "published", "subject_hash":
                          latest[("collector_filing", filing["id"])]["subject_hash"]}
    foreign = await operator.post(f"/v1/collector-filings/p-{filing['id']}/revoke",
                                  {"reason": "x"})
    assert foreign.status_code == 403
    assert foreign.json()["code"] == "foreign_record"
    got = (await operator.get(f"/v1/blackmarket/groups/p-{group['id']}")).json()
    assert got["origin"] == PEER
    assert got["indicators"] == [{"type": "domain", "value": "tingxi.example.cn"}]
    assert (await operator.get(f"/v1/risk-events/p-{event['id']}")).json()["updates"][0][
        "summary"] == "后续"
    # A tombstone forgets the peer's record.
    async with db.transaction():
        await replicas.apply(db, "blackmarket_group", PEER, f"p-{group['id']}", None)
    assert (await operator.get(f"/v1/blackmarket/groups/p-{group['id']}")).status_code == 404
