"""Three nodes answer one trace: a telecom carrier supplies, a finance agency confirms and
its lender files at home, and both nodes and a carrier's in-process mirror agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from sync.mirror import CarrierMirror
from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import RunningNode, eventually, nodes, pair, synced
from tests.support.whitelist import IN_WINDOW, confirm, entrust, file, supply, trace

NUMBER = "+8613800138000"


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """A trace answer without its checkpoint, which names the node that answered."""
    return {k: v for k, v in answer.items() if k != "checkpoint"}


async def _member_held(node: RunningNode, member: SignedClient) -> bool:
    return (await node.operator.get(f"/v1/members/{member.id}")).status_code == 200


async def test_a_number_supplied_on_one_node_and_used_on_another_traces_alike(
    databases: TemplateDatabases, tmp_path: Path
) -> None:
    async with nodes(databases, tmp_path, "node-tel", "node-fin", "node-reg") as (
        tel, fin, reg
    ):
        await pair(tel, fin)
        await pair(fin, reg)
        await pair(tel, reg)
        carrier = await admit_member(tel.operator, "carrier")
        agency = await admit_member(fin.operator, "collection_agency")
        lender = await admit_member(fin.operator, "lender", subtype="consumer_finance_company")
        await eventually(lambda: _member_held(tel, agency))

        # The telecom node's carrier supplies a number to the finance node's agency ...
        resource = await supply(carrier, agency, NUMBER)

        async def resource_held() -> bool:
            return bool((await trace(agency, NUMBER))["reason"] != "unregistered")

        await eventually(resource_held)
        # ... the agency confirms at home, and its lender files it at home.
        await confirm(agency, resource["id"])
        entrustment = await entrust(lender, agency)
        await file(lender, resource["id"], entrustment["id"])
        # The telecom node cannot change what the finance node wrote, nor the reverse.
        refused = await carrier.post(f"/v1/resources/{resource['id']}/filings",
                                     {"entrustment_id": entrustment["id"]})
        assert refused.status_code in (403, 404, 409), refused.text
        # A principal writes at its home node only: the carrier's keys are not at fin.
        abroad = await fin.client_for(carrier.signer).post(
            f"/v1/resources/{resource['id']}/confirm")
        assert abroad.status_code == 401
        assert abroad.json()["code"] == "unknown_key"
        await synced(tel, fin, reg)

        at_fin = await trace(fin.operator, NUMBER)
        at_tel = await trace(tel.operator, NUMBER)
        at_reg = await trace(reg.operator, NUMBER)
        assert at_fin["traceable"] is True, at_fin
        assert at_fin["supplier"]["id"] == carrier.id
        assert at_fin["user"]["id"] == agency.id
        assert [p["id"] for p in at_fin["principals"]] == [lender.id]
        assert _comparable(at_tel) == _comparable(at_fin) == _comparable(at_reg)

        # The carrier's own mirror of its home node answers the same, in process.
        key = carrier.signer.key
        mirror = CarrierMirror(tel.url, member_id=carrier.id, key=key,
                               kid=carrier.signer.kid, snapshot=tmp_path / "mirror.journal")
        await mirror.sync_once()
        from api.routes.trace import parse_at

        (mirrored,) = mirror.trace([NUMBER], parse_at(IN_WINDOW))
        mirrored_json = msgspec.json.decode(msgspec.json.encode(mirrored))
        assert _comparable(mirrored_json) == _comparable(at_tel)
        assert mirrored_json["checkpoint"] == at_tel["checkpoint"]
        assert mirror.check(NUMBER, parse_at(IN_WINDOW)) is None

        # A suspension at home reaches every node and the mirror.
        done = await fin.operator.post(f"/v1/members/{agency.id}/status",
                                       {"status": "suspended", "reason": "投诉核查"})
        assert done.status_code == 200
        await synced(tel, fin, reg)
        for node in (tel, fin, reg):
            answer = await trace(node.operator, NUMBER)
            assert answer["traceable"] is False
            assert answer["reason"] == "user_inactive"
        await mirror.sync_once()
        (mirrored,) = mirror.trace([NUMBER], parse_at(IN_WINDOW))
        assert mirrored.reason == "user_inactive"
        assert mirror.check(NUMBER, parse_at(IN_WINDOW)) == "user_inactive"
        mirror.close()
