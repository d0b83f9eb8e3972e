"""A member not yet admitted (API.md v1.1): it may read, keep its own disclosure and keys;
every other write is 403 member_pending. Driven by the app's own route table, so a write
route added later is covered without anyone remembering to list it here."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from api.guards import PENDING_MAY, READ_ONLY
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.routes import signed_handlers
from tests.support.signing import Signer

READS = {"GET", "HEAD", "OPTIONS"}


def signed_writes(app: Litestar) -> list[tuple[str, str, bool]]:
    """(method, path with made-up ids, allowed while pending) of every signed write route."""
    return sorted((method, path, bool(handler.opt.get(PENDING_MAY)))
                  for method, path, handler in signed_handlers(app)
                  if method not in READS and not handler.opt.get(READ_ONLY))


async def test_every_write_but_its_own_disclosure_and_keys_is_member_pending(
    app: Litestar, operator: SignedClient,
) -> None:
    writes = signed_writes(app)
    assert ("POST", "/v1/entrustments", False) in writes
    assert ("PATCH", "/v1/members/x_unknown", True) in writes
    for kind in ("lender", "collection_agency", "carrier"):
        pending = await admit_member(operator, kind, status="pending")
        for method, path, allowed in writes:
            if allowed:
                continue
            answer = await pending.request(method, path, json={})
            assert answer.status_code == 403, (kind, method, path, answer.text)
            assert answer.json()["code"] == "member_pending", (kind, method, path)


async def test_a_pending_member_reads_and_keeps_its_own_disclosure_and_keys(
    operator: SignedClient,
) -> None:
    pending = await admit_member(operator, "collection_agency", status="pending")
    assert (await pending.get(f"/v1/members/{pending.id}")).status_code == 200
    assert (await pending.get("/v1/entrustments")).status_code == 200
    patched = await pending.patch(f"/v1/members/{pending.id}",
                                  {"complaints": {"process": "三日内答复"}})
    assert patched.status_code == 200, patched.text
    spare = Signer.new_ed25519(pending.id, operator.signer.audience, kid="spare")
    added = await pending.post(f"/v1/members/{pending.id}/keys", spare.public_jwk)
    assert added.status_code in (200, 201), added.text
    revoked = await pending.delete(f"/v1/members/{pending.id}/keys/spare")
    assert revoked.status_code == 204, revoked.text
    # Its own only: another member's disclosure is still not its to change.
    other = await admit_member(operator, "lender")
    answer = await pending.patch(f"/v1/members/{other.id}", {"contact": {"phone": "1"}})
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


async def test_an_entrustment_needs_an_active_lender(operator: SignedClient, db: Any) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    # Its status is read with each request (and again by the store, in the transaction).
    await db.execute("UPDATE members SET status = 'pending' WHERE id = $1", lender.id)
    answer = await lender.post("/v1/entrustments", {
        "agency_id": agency.id, "starts_on": "2026-01-01", "ends_on": "2026-12-31"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "member_pending"
