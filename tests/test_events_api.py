"""Events and webhooks over HTTP (API.md §14): what concerns a member, in order, with a
cursor; webhooks signed per Standard Webhooks (checked with its reference library),
retried under one id, never to a private address, never held up by a hanging receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook

from api.routes.events import check_url
from api.settings import Settings
from registry.errors import Invalid
from sync import consumer
from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id
from tests.support.receiver import HANG, receiving
from tests.support.whitelist import cast, entrust, supply


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir,
                    webhook_allow_http_loopback=True, webhook_poll_seconds=0.1,
                    webhook_backoff_seconds=0.1, webhook_timeout_seconds=4.0)


async def events_of(member: SignedClient, after: str | None = None,
                    limit: int = 100) -> dict[str, Any]:
    target = f"/v1/events?limit={limit}" + (f"&after={after}" if after else "")
    answer = await member.get(target)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


async def set_status(operator: SignedClient, member: SignedClient, status: str) -> None:
    answer = await operator.post(f"/v1/members/{member.id}/status",
                                 {"status": status, "reason": "检查"})
    assert answer.status_code == 200, answer.text


async def put_webhook(member: SignedClient, url: str, **fields: Any) -> dict[str, Any]:
    answer = await member.request("PUT", f"/v1/members/{member.id}/webhook",
                                  json={"url": url, **fields})
    assert answer.status_code == 200, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def test_events_in_order_with_a_working_cursor(operator: SignedClient) -> None:
    c = await cast(operator)
    stranger = await admit_member(operator, "lender")
    await entrust(c.lender, c.agency)
    supplied = await supply(c.carrier, c.agency, "+8613911110001")
    await set_status(operator, c.agency, "suspended")
    await set_status(operator, c.agency, "active")

    page = await events_of(c.agency)
    types = [e["type"] for e in page["items"]]
    # Its own admission came first, then the number, then the two status changes.
    assert types == ["member.status_changed", "resource.supplied",
                     "member.status_changed", "member.status_changed"]
    assert page["items"][1]["subject"] == {"type": "resource", "id": supplied["id"]}
    assert page["items"][1]["data"]["value"] == "+8613911110001"
    assert [e["data"]["status"] for e in page["items"] if e["type"].startswith("member")] \
        == ["active", "suspended", "active"]

    # The lender that entrusts the agency is told of its status changes, not of its numbers.
    lender_page = await events_of(c.lender)
    told = [(e["type"], e["subject"]["id"], e["data"]["status"]) for e in lender_page["items"]]
    assert ("member.status_changed", c.agency.id, "suspended") in told
    assert all(e["type"] == "member.status_changed" for e in lender_page["items"])
    stranger_ids = {e["subject"]["id"] for e in (await events_of(stranger))["items"]}
    assert stranger_ids == {stranger.id}

    # Page by page, one at a time: the same events, in the same order, each once.
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        step = await events_of(c.agency, after=cursor, limit=1)
        if not step["items"]:
            assert step["next_cursor"] == cursor  # a poller keeps its place
            break
        seen += [e["id"] for e in step["items"]]
        cursor = step["next_cursor"]
    assert seen == [e["id"] for e in page["items"]]

    # What happens after the cursor is what the next read returns.
    await set_status(operator, c.agency, "suspended")
    later = await events_of(c.agency, after=cursor)
    assert [e["data"]["status"] for e in later["items"]] == ["suspended"]


async def test_a_bad_cursor_is_a_clear_422(operator: SignedClient) -> None:
    member = await admit_member(operator, "lender")
    for bad in ("nonsense", "WyJ4Il0", "Wy0xXQ"):  # not base64 JSON; ["x"]; [-1]
        answer = await member.get(f"/v1/events?after={bad}")
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "after"


async def test_a_reviewed_filing_and_a_shared_breach_are_told(operator: SignedClient) -> None:
    c = await cast(operator)
    await entrust(c.lender, c.agency)
    filed = await c.agency.post("/v1/collector-filings", filing_body(make_prc_id()))
    assert filed.status_code == 201, filed.text
    reviewed = await operator.post(f"/v1/collector-filings/{filed.json()['id']}/review",
                                   {"decision": "reject", "reason": "证据不足"})
    assert reviewed.status_code == 200, reviewed.text
    breach = await c.agency.post("/v1/risk-events", {
        "category": "personal_data_breach", "discovered_at": "2026-11-28T08:00:00+08:00",
        "summary": "外包系统数据库被拖库"})
    assert breach.status_code == 201, breach.text

    agency_events = (await events_of(c.agency))["items"]
    review = [e for e in agency_events if e["type"] == "filing.reviewed"]
    assert [(e["data"]["decision"], e["data"]["reason"]) for e in review] \
        == [("reject", "证据不足")]
    shared = [e for e in (await events_of(c.lender))["items"] if e["type"] == "risk_event.shared"]
    assert len(shared) == 1
    assert shared[0]["data"]["lender_due_at"] == "2026-11-29T00:00:00Z"  # discovered + 24 h
    assert not [e for e in agency_events if e["type"] == "risk_event.shared"]


async def test_a_webhook_delivery_is_signed_per_standard_webhooks(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    member = await admit_member(operator, "collection_agency")
    with receiving([200]) as receiver:
        made = await put_webhook(member, receiver.url, types=["member.status_changed"])
        assert made["secret"].startswith("whsec_")
        await set_status(operator, member, "suspended")
        [delivery] = await receiver.arrived(1)
        event = Webhook(made["secret"]).verify(delivery.body, delivery.headers)
        assert event["type"] == "member.status_changed"
        assert event["data"]["status"] == "suspended"
        assert delivery.headers["webhook-id"] == event["id"]
        feed = (await events_of(member))["items"]
        assert feed[-1]["id"] == event["id"]
        # Tampering with the body breaks the signature.
        with pytest.raises(Exception, match="signature"):
            Webhook(made["secret"]).verify(delivery.body.replace(b"suspended", b"active"),
                                           delivery.headers)
        shown = await member.get(f"/v1/members/{member.id}/webhook")
        assert shown.status_code == 200, shown.text
        assert shown.json()["webhook"]["secret"] is None  # shown once only
        for _ in range(50):
            status = (await member.get(f"/v1/members/{member.id}/webhook")).json()
            if status["delivered"] == 1:
                break
            await asyncio.sleep(0.05)
        assert status["delivered"] == 1
        assert status["pending"] == 0
    row = await db.fetchrow("SELECT secret FROM webhooks WHERE member_id = $1", member.id)
    assert row is not None
    assert made["secret"] not in row["secret"]


async def test_a_receiver_answering_500_gets_retries_under_one_id(
    operator: SignedClient,
) -> None:
    member = await admit_member(operator, "collection_agency")
    with receiving([500, 500, 204]) as receiver:
        made = await put_webhook(member, receiver.url)
        await set_status(operator, member, "suspended")
        got = await receiver.arrived(3)
        assert {r.headers["webhook-id"] for r in got} == {got[0].headers["webhook-id"]}
        assert [r.answered for r in got] == [500, 500, 204]
        # Not at once: after the backoff (0.1 s, then 0.2 s).
        assert got[1].at - got[0].at >= 0.09
        assert got[2].at - got[1].at >= 0.19
        for r in got:
            Webhook(made["secret"]).verify(r.body, r.headers)
        await asyncio.sleep(0.3)
        status = (await member.get(f"/v1/members/{member.id}/webhook")).json()
    assert len(receiver.received) == 3  # no retry after the 2xx
    assert status["delivered"] == 1
    assert [e["status"] for e in status["last_errors"]] == [500, 500]
    # The console's operators see it too; another member does not.
    assert (await operator.get(f"/v1/members/{member.id}/webhook")).status_code == 200
    other = await admit_member(operator, "lender")
    assert (await other.get(f"/v1/members/{member.id}/webhook")).status_code == 403


async def test_a_hanging_receiver_does_not_hold_up_others(operator: SignedClient) -> None:
    slow = await admit_member(operator, "collection_agency")
    fast = await admit_member(operator, "collection_agency")
    with receiving([HANG]) as hanging, receiving([200]) as quick:
        await put_webhook(slow, hanging.url)
        await put_webhook(fast, quick.url)
        for _ in range(3):  # more deliveries for the hanging receiver than there are slots
            await set_status(operator, slow, "suspended")
            await set_status(operator, slow, "active")
        await hanging.arrived(1)
        await set_status(operator, fast, "suspended")
        # Delivered well within the hanging receiver's time-out (4 s).
        [done] = await quick.arrived(1, within=2.5)
        assert done.answered == 200


async def test_webhook_secret_rotation_signs_with_both_for_a_while(
    operator: SignedClient,
) -> None:
    member = await admit_member(operator, "lender")
    with receiving([200]) as receiver:
        first = await put_webhook(member, receiver.url)
        rotated = await member.post(f"/v1/members/{member.id}/webhook/rotate")
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()["secret"]
        assert second != first["secret"]
        assert rotated.json()["previous_secret_until"]
        await set_status(operator, member, "suspended")
        [delivery] = await receiver.arrived(1)
        Webhook(first["secret"]).verify(delivery.body, delivery.headers)
        Webhook(second).verify(delivery.body, delivery.headers)


@pytest.mark.parametrize("url", [
    "https://10.1.2.3/hook", "https://192.168.1.1/hook", "https://169.254.169.254/latest",
    "https://[fe80::1]/hook", "https://[::ffff:10.0.0.1]/hook", "https://100.64.0.1/x",
    "http://example.com/hook", "ftp://example.com/", "https://user:pw@example.com/",
    "https://0.0.0.0/",
])
async def test_a_webhook_url_to_a_private_address_is_refused(
    operator: SignedClient, url: str,
) -> None:
    member = await admit_member(operator, "lender")
    answer = await member.request("PUT", f"/v1/members/{member.id}/webhook", json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "url"
    assert (await member.get(f"/v1/members/{member.id}/webhook")).status_code == 404


async def test_a_name_that_resolves_to_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(Invalid, match="loopback"):
        await check_url("https://localhost/hook", allow_loopback=False)
    with pytest.raises(Invalid, match="http://"):
        await check_url("http://127.0.0.1:9/hook", allow_loopback=False)
    await check_url("http://127.0.0.1:9/hook", allow_loopback=True)


async def test_only_the_member_sets_its_webhook(operator: SignedClient) -> None:
    member = await admit_member(operator, "lender")
    other = await admit_member(operator, "lender")
    body = {"url": "https://example.com/hook"}
    for who in (other, operator):
        answer = await who.request("PUT", f"/v1/members/{member.id}/webhook", json=body)
        assert answer.status_code == 403, answer.text
    bad_type = await member.request("PUT", f"/v1/members/{member.id}/webhook",
                                    json={"url": receiver_free_url(), "types": ["nope"]})
    assert bad_type.status_code == 422


def receiver_free_url() -> str:
    return "http://127.0.0.1:9/hook"


async def test_a_peers_fault_is_told_to_the_operators_once(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    await db.execute("INSERT INTO peers (node_id, url, send_types) VALUES"
                     " ('node-faulty', 'https://peer.example', '{}')")
    await db.execute("INSERT INTO sync_state (peer) VALUES ('node-faulty')")
    await consumer.record_fault(db, "node-faulty", "checkpoint signature does not verify")
    await consumer.record_fault(db, "node-faulty", "still faulty")  # the same fault goes on
    items = (await operator.get("/v1/events")).json()["items"]
    faults = [e for e in items if e["type"] == "peer.faulted"]
    assert [(e["subject"]["id"], e["data"]["fault"]) for e in faults] == [
        ("node-faulty", "checkpoint signature does not verify")]
