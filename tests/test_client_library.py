"""registry_client against a node served by `registry serve` (uvicorn, real PostgreSQL):
every endpoint family, paths that need encoding, typed answers, problems, batches, retries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest

from registry.db import connect
from registry.principals import create_operator
from registry_client import (
    AsyncClient,
    Client,
    ProblemError,
    RetryPolicy,
    Signer,
    calls,
    models,
)
from tests.support.factories import member_body
from tests.support.people import filing_body, make_prc_id
from tests.support.served import ServedNode, served_registry

NODE = "node-client"


@pytest.fixture(scope="module")
def node(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    workdir = tmp_path_factory.mktemp("client-node")
    with served_registry(workdir, database_url=database_url, node_id=NODE,
                         env={"REGISTRY_PUBLIC_RATE_PER_MINUTE": "3"}) as served:
        yield served


@dataclass
class Cast:
    operator: Client
    lender: Client
    agency: Client
    carrier: Client
    entrustment_id: str


def _admit(operator: Client, base: str, kind: str) -> Client:
    """A member added and admitted through the client library, with a key of its own."""
    signer = Signer.new_ed25519("-", NODE)
    body = msgspec.convert(member_body(kind, None, keys=[signer.public_jwk]),
                           models.MemberCreate)
    made = operator.send(calls.add_member(body))
    assert isinstance(made, models.Member)
    assert made.status == "pending"
    active = operator.send(calls.set_member_status(made.id, "active", "客户端测试"))
    assert active.status == "active"
    assert active.history[-1].status == "active"
    return Client(base, principal_id=made.id, key=signer.key, kid=signer.kid)


@pytest.fixture(scope="module")
async def cast(node: ServedNode, database_url: str) -> AsyncIterator[Cast]:
    conn = await connect(database_url)
    try:
        made = await create_operator(conn, "客户端操作员")
    finally:
        await conn.close()
    # No audience given: the client learns it from /.well-known/registry-node.
    operator = Client(node.base, principal_id=made.id, key=made.private_key, kid=made.kid)
    lender, agency, carrier = (_admit(operator, node.base, kind)
                               for kind in ("lender", "collection_agency", "carrier"))
    today = datetime.now(UTC).date()
    entrustment = lender.send(calls.raw("POST", "/v1/entrustments", msgspec.json.encode({
        "agency_id": agency.principal_id, "starts_on": str(today - timedelta(days=30)),
        "ends_on": str(today + timedelta(days=300)), "subcontracting_allowed": False})))
    yield Cast(operator, lender, agency, carrier, entrustment["id"])
    for client in (operator, lender, agency, carrier):
        client.http.close()


def test_members_typed_and_queried_with_chinese_text(cast: Cast) -> None:
    agency = cast.operator.send(calls.member(cast.agency.principal_id))
    assert agency.kind == "collection_agency"
    # The agency itself may read its record; q holds Chinese, sent percent-encoded.
    assert cast.agency.send(calls.member(agency.id)).uscc == agency.uscc
    page = cast.lender.send(calls.members(q=agency.name, limit=5))
    assert [m.id for m in page.items] == [agency.id]
    assert cast.lender.send(calls.members(kind="carrier", status="active")).items


def test_a_problem_is_raised_with_its_code(cast: Cast) -> None:
    with pytest.raises(ProblemError) as refused:
        cast.lender.send(calls.set_member_status(cast.agency.principal_id, "removed", "no"))
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    # An id with "/" and "?" in it stays one segment: the node answers 404, not 401.
    with pytest.raises(ProblemError) as missing:
        cast.lender.send(calls.member("no/such?member #1"))
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    with pytest.raises(ProblemError) as invalid:
        cast.operator.send(calls.add_member(models.MemberCreate(
            kind="lender", name="校验位错误", uscc="91310000MA1FL1234X")))
    assert invalid.value.code == "invalid"
    assert [e.field for e in invalid.value.problem.errors] == ["uscc"]


def test_resources_supplied_confirmed_filed_and_traced(cast: Cast) -> None:
    supplied = cast.carrier.send(calls.supply(models.ResourceSupply(
        kind="voice", value="+86 138-0013-8000", assignee_id=cast.agency.principal_id)))
    assert supplied.value == "+8613800138000"
    assert cast.agency.send(calls.confirm(supplied.id)).confirmed
    filing = cast.lender.send(calls.file_resource(supplied.id, cast.entrustment_id))
    assert (filing.resource_id, filing.lender_id) == (supplied.id, cast.lender.principal_id)

    # "+", spaces and "-" in the path, "+08:00" in the query: all must reach the node as
    # signed, or the answer would be 401 url_mismatch.
    now = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    for value in ("+86 138-0013-8000", "+8613800138000", "008613800138000"):
        answer = cast.carrier.send(calls.trace(value, at=now))
        assert isinstance(answer, models.TraceResult)
        assert answer.traceable, answer
        assert answer.user is not None
        assert answer.user.id == cast.agency.principal_id
        assert [p.id for p in answer.principals] == [cast.lender.principal_id]
    unknown = cast.carrier.send(calls.trace("+86 139 0000 0000"))
    assert (unknown.traceable, unknown.reason) == (False, "unregistered")


def test_batches_are_split_into_a_thousand_at_most(cast: Cast) -> None:
    numbers = [f"+86137{i:08d}" for i in range(1205)]
    ids = cast.carrier.supply_all([
        models.ResourceSupply(kind="voice", value=n, assignee_id=cast.lender.principal_id)
        for n in numbers])
    assert len(ids) == len(set(ids)) == 1205
    assert cast.lender.confirm_all(ids) == ids
    results = cast.carrier.trace_all([*numbers, "+8613900000001"])
    assert [r.value for r in results[:1205]] == numbers
    assert all(r.traceable for r in results[:1205])  # the lender's own: no filing needed
    assert results[-1].reason == "unregistered"


def test_collector_filings_filed_reviewed_and_checked(cast: Cast) -> None:
    number = make_prc_id()
    body = msgspec.convert(filing_body(number), models.CollectorFilingCreate)
    filed = cast.agency.send(calls.file_collector(body))
    assert filed.status == "submitted"
    assert number not in msgspec.json.encode(filed).decode()
    reviewed = cast.operator.send(calls.review_filing(filed.id, "publish", "证据充分"))
    assert reviewed.status == "published"
    assert cast.agency.send(calls.collector_filing(filed.id)).id == filed.id
    assert [f.id for f in cast.agency.send(calls.collector_filings()).items] == [filed.id]
    found = cast.lender.send(calls.check_collector(number))
    assert found.listed
    assert [f.id for f in found.filings] == [filed.id]


async def test_the_async_client_sends_the_same_calls(node: ServedNode, cast: Cast) -> None:
    carrier = cast.carrier
    async with AsyncClient(node.base, principal_id=carrier.principal_id, key=carrier.key,
                           kid=carrier.kid, audience=NODE) as client:
        one = await client.send(calls.trace("+86 138 0013 8000"))
        assert one.traceable
        many = await client.trace_all(["+8613800138000"] * 1001)
        assert len(many) == 1001
        assert all(r.traceable for r in many)
        member = await client.send(calls.member(cast.agency.principal_id))
        assert member.id == cast.agency.principal_id


def test_a_rate_limited_call_gives_up_when_retry_after_is_too_long(node: ServedNode) -> None:
    """The node's public limit here is 3 a minute; its Retry-After is tens of seconds."""
    check = calls.raw("GET", "/v1/public/check/%2B8613800138000", public=True)
    client = Client(node.base, principal_id="-", key=Signer.new_ed25519("-", NODE).key,
                    retry=RetryPolicy(longest_wait=0.5))
    for _ in range(3):
        assert "registered" in client.send(check)
    with pytest.raises(ProblemError) as limited:
        client.send(check)
    client.http.close()
    assert (limited.value.status, limited.value.code) == (429, "rate_limited")


def test_503_is_tried_again_after_retry_after_with_a_fresh_token() -> None:
    """The retry loop itself, driven through httpx's transport: a 503 with Retry-After: 1,
    then the answer; the second attempt carries a new jti (a replay would be refused)."""
    seen: list[httpx.Request] = []

    def node(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/.well-known/registry-node":
            return httpx.Response(200, json={"node_id": NODE, "keys": []})
        if len(seen) == 2:
            return httpx.Response(503, headers={"Retry-After": "1"},
                                  json={"status": 503, "code": "unavailable"})
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    signer = Signer.new_ed25519("op", NODE)
    started = time.monotonic()
    with Client("http://registry.test", principal_id="op", key=signer.key, kid="k1",
                http=httpx.Client(transport=httpx.MockTransport(node))) as client:
        assert client.send(calls.members()).items == []
    assert time.monotonic() - started >= 1
    tokens = [r.headers["Authorization"] for r in seen[1:]]
    assert len(tokens) == 2
    assert tokens[0] != tokens[1]


def test_pem_keys_load_and_bad_base_urls_are_refused(tmp_path: Path) -> None:
    from registry.signing_keys import write_private_key
    from registry_client import load_private_key, public_jwk

    signer = Signer.new_ed25519("m", NODE)
    write_private_key(tmp_path / "k.pem", signer.key)  # type: ignore[arg-type]
    loaded = load_private_key(tmp_path / "k.pem")
    assert public_jwk(loaded, "k1") == signer.public_jwk
    with pytest.raises(ValueError, match="root URL"):
        Client("http://node.test/registry", principal_id="m", key=loaded)


def test_retry_after_dates_proxy_pages_and_batch_sizes() -> None:
    from email.utils import formatdate

    from registry_client import batches
    from registry_client.paths import normalise
    from registry_client.problems import problem_of
    from registry_client.transport import retry_after

    now = time.time()
    assert retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert retry_after("soon") is None
    assert retry_after("7") == 7
    page = problem_of(502, "Bad Gateway", b"<html>upstream down</html>")
    assert (page.status, page.code, page.detail) == (502, None, "<html>upstream down</html>")
    assert [len(b) for b in batches(list(range(2001)))] == [1000, 1000, 1]
    with pytest.raises(ValueError, match="at least one"):
        list(batches([1], size=0))
    assert normalise("/v1/trace/+86 138%?q=中 文") == (
        "/v1/trace/+86%20138%25?q=%E4%B8%AD%20%E6%96%87")
    with pytest.raises(ValueError, match="starts with /"):
        normalise("v1/members")
