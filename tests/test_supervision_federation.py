"""Supervision records federate like every other record: each written at its writer's home
node (the agency's commitments at the agency's node, the lender's evaluations and
rectifications at the lender's), replicated to the peer, and a peer's change applied only
over rows of its own origin."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from registry.entrustments import supervision
from registry.entrustments.model import RectificationRecord
from registry.entrustments.rules import today
from registry.record_types import DEFAULT_PEER_TYPES
from tests.support.database import TemplateDatabases
from tests.support.factories import admit_member
from tests.support.nodes import RunningNode, eventually, nodes, pair

SUPERVISION_TYPES = sorted(DEFAULT_PEER_TYPES)
assert {supervision.COMMITMENTS, supervision.EVALUATION, supervision.RECTIFICATION} <= set(
    SUPERVISION_TYPES)
ALL_FOUR = ["no_subcontracting", "confidentiality", "accept_supervision", "accept_regulators"]


async def _active_at(node: RunningNode, member_id: str) -> bool:
    answer = await node.operator.get(f"/v1/members/{member_id}")
    return answer.status_code == 200 and answer.json()["status"] == "active"


async def test_commitments_evaluations_rectifications_cross_nodes(
    databases: TemplateDatabases, tmp_path: Path,
) -> None:
    async with nodes(databases, tmp_path, "node-fin", "node-tel") as (fin, tel):
        await pair(fin, tel, **{"node-fin": SUPERVISION_TYPES, "node-tel": SUPERVISION_TYPES})
        lender = await admit_member(fin.operator, "lender")
        agency = await admit_member(tel.operator, "collection_agency")
        await eventually(lambda: _active_at(fin, agency.id))
        made = await lender.post("/v1/entrustments", {
            "agency_id": agency.id, "starts_on": "2026-01-01", "ends_on": "2027-12-31"})
        assert made.status_code == 201, made.text
        entrustment_id = made.json()["id"]

        async def at_tel(check: Any) -> Any:
            async def probe() -> Any:
                answer = await agency.get(f"/v1/entrustments/{entrustment_id}")
                return answer.json() if answer.status_code == 200 and check(
                    answer.json()) else None
            return await eventually(probe)

        await at_tel(lambda e: True)
        # The agency signs at its own node; the lender sees it at its node.
        signed = await agency.post(f"/v1/entrustments/{entrustment_id}/commitments",
                                   {"commitments": ALL_FOUR})
        assert signed.status_code == 201, signed.text

        async def commitments_at_fin() -> Any:
            answer = (await lender.get(f"/v1/entrustments/{entrustment_id}")).json()
            return answer["commitments"]
        seen = await eventually(commitments_at_fin)
        assert seen["id"] == signed.json()["id"]

        evaluated = await lender.post(f"/v1/entrustments/{entrustment_id}/evaluations", {
            "period_end": "2026-06-30", "grade": "A", "summary": "良好",
            "scores": {"compliance": 90, "effectiveness": 90, "data_security": 90,
                       "records": 90, "complaints": 90}})
        assert evaluated.status_code == 201, evaluated.text
        opened = await lender.post(f"/v1/entrustments/{entrustment_id}/rectifications", {
            "cause": "suspected_violation", "due_on": today().isoformat(), "summary": "核查"})
        closed = await lender.post(f"/v1/rectifications/{opened.json()['id']}/close",
                                   {"outcome": "failed", "summary": "未整改"})
        assert closed.status_code == 200, closed.text
        ended = await at_tel(lambda e: e["ended"] and e["rectifications"]
                             and e["rectifications"][0]["outcome"] == "failed")
        assert [v["id"] for v in ended["evaluations"]] == [evaluated.json()["id"]]

        # Records from the peer are read-only here: the lender's rectification at tel.
        rows = await tel.db.fetch("SELECT origin FROM rectifications WHERE entrustment_id = $1",
                                  entrustment_id)
        assert [r["origin"] for r in rows] == ["node-fin"]
        commitment_origin = await fin.db.fetchval(
            "SELECT origin FROM entrustment_commitments WHERE entrustment_id = $1",
            entrustment_id)
        assert commitment_origin == "node-tel"

        # A change naming another origin's record writes nothing over it.
        forged = {**closed.json(), "status": "open", "outcome": None, "closed_at": None,
                  "opened_at": datetime.now(UTC).isoformat()}
        forged.pop("overdue")
        await supervision.apply_remote_rectification(
            tel.db, "node-evil", opened.json()["id"],
            msgspec.convert(forged, RectificationRecord))
        assert await tel.db.fetchval("SELECT status FROM rectifications WHERE id = $1",
                                     opened.json()["id"]) == "closed"
