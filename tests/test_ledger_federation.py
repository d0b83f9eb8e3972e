"""Two nodes count one debtor together: a telecom-node carrier reports calls made by a
finance-node agency, the agency reports others (one of them the same call) at home, and
after a sync both nodes answer the lender's allowance with the combined count."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from registry import keyed_hash
from registry.ledger.debtors import PURPOSE
from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.ledger import DEBTOR, allowance, call, report, shanghai_day
from tests.support.nodes import eventually, nodes, pair, synced
from tests.support.whitelist import confirm, entrust, file, supply

NUMBER = "+8613600136000"
DAY = shanghai_day(-1)


def at(clock: str) -> str:
    return f"{DAY}T{clock}+08:00"


def share_debtor_key(tmp: Path, *node_ids: str) -> None:
    """The association's debtor-hash key, installed on every node as operators do."""
    first = tmp / node_ids[0] / "secrets"
    keyed_hash.load(first, PURPOSE)
    for other in node_ids[1:]:
        (tmp / other / "secrets").mkdir(parents=True)
        for key in first.iterdir():
            shutil.copy2(key, tmp / other / "secrets" / key.name)


async def counted(asker: SignedClient, n: int) -> dict[str, Any] | None:
    answer = await allowance(asker, NUMBER, at("11:00:00"))
    return answer if answer["principals"][0]["connected_today"] == n else None


async def limited(asker: SignedClient, limit: int) -> dict[str, Any] | None:
    answer = await allowance(asker, NUMBER, at("11:00:00"))
    return answer if answer["principals"][0]["limit"] == limit else None


async def test_calls_reported_on_two_nodes_count_together(
    databases: TemplateDatabases, own_tmp: Path
) -> None:
    share_debtor_key(own_tmp, "node-tel", "node-fin")
    async with nodes(databases, own_tmp, "node-tel", "node-fin") as (tel, fin):
        await pair(tel, fin)
        carrier = await admit_member(tel.operator, "carrier")
        agency = await admit_member(fin.operator, "collection_agency")
        lender = await admit_member(fin.operator, "lender", subtype="consumer_finance_company")
        await synced(tel, fin)
        resource = await supply(carrier, agency, NUMBER)
        await synced(tel, fin)
        await confirm(agency, resource["id"])
        await file(lender, resource["id"], (await entrust(lender, agency))["id"])
        await synced(tel, fin)

        at_home = await report(agency, call(NUMBER, at("09:00:00")),
                               call(NUMBER, at("09:30:00")))
        abroad = await report(carrier, call(NUMBER, at("09:00:00")),
                              call(NUMBER, at("10:00:00")), call(NUMBER, at("10:30:00")))
        assert all(r["principals"] == [lender.id] for r in [*at_home, *abroad])
        await synced(tel, fin)

        # Counted once each, whichever node heard of the call first: 4 calls, not 5. (A
        # worker's memory takes a peer's entries on the change log's notice: eventually.)
        for asker in (fin.client_for(lender.signer), carrier):
            answer = await eventually(lambda asker=asker: counted(asker, 4))
            (standing,) = answer["principals"]
            assert (standing["id"], standing["connected_today"]) == (lender.id, 4)
            assert answer["allowed"] is False

        # The lender's agreement, made at home, holds on the telecom node after a sync.
        made = await fin.client_for(lender.signer).post("/v1/contacts/agreements", {
            "callee": DEBTOR, "daily_limit": 6, "valid_to": "2027-01-01T00:00:00+08:00"})
        assert made.status_code == 201, made.text
        await synced(tel, fin)
        answer = await eventually(lambda: limited(carrier, 6))
        assert (answer["principals"][0]["limit"], answer["principals"][0]["agreed"],
                answer["allowed"]) == (6, True, True)
        # Ended at home, ended everywhere.
        ended = await fin.client_for(lender.signer).delete(
            f"/v1/contacts/agreements/{made.json()['id']}")
        assert ended.status_code == 204
        await synced(tel, fin)
        answer = await eventually(lambda: limited(carrier, 3))
        assert (answer["principals"][0]["limit"], answer["allowed"]) == (3, False)
        # Each node holds each call once, under whichever origin told it first.
        for node in (tel, fin):
            assert await node.db.fetchval("SELECT count(*) FROM contacts") == 4
            assert await node.db.fetchval(
                "SELECT sum(connected) FROM contact_days WHERE principal_id = $1",
                lender.id) == 4
