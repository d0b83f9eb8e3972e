"""Risk-event reports (Article 24) over HTTP: the 48-hour deadline, follow-ups, listing, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest

from registry.risk import rules
from tests.support.client import SignedClient
from tests.support.factories import admit_member

BEIJING = timezone(timedelta(hours=8))


def test_the_deadline_is_48_hours_after_discovery() -> None:
    # "Late" itself (reported after due_at; exactly at it is on time) is the generated
    # column of migration 0006, tested at the edge over HTTP below.
    found = datetime(2026, 11, 1, 9, 0, tzinfo=BEIJING)
    assert rules.due_at(found) == datetime(2026, 11, 3, 9, 0, tzinfo=BEIJING)


@pytest.fixture(scope="module")
async def reporter(operator: SignedClient) -> SignedClient:
    return await admit_member(operator, "collection_agency")


async def report(client: SignedClient, discovered: datetime, **fields: Any) -> dict[str, Any]:
    body = {"category": "black_market_interference",
            "discovered_at": discovered.astimezone(BEIJING).isoformat(),
            "summary": "反催收联盟组织集中投诉", "cause": "停息挂账广告", "measures": "已报警"}
    body.update(fields)
    answer = await client.post("/v1/risk-events", body)
    assert answer.status_code == 201, answer.text
    event: dict[str, Any] = answer.json()
    return event


async def test_due_at_is_discovery_plus_48_hours_and_late_at_the_edge(
    reporter: SignedClient,
) -> None:
    now = datetime.now(UTC)
    on_time = await report(reporter, now - timedelta(hours=48) + timedelta(seconds=10))
    late = await report(reporter, now - timedelta(hours=48) - timedelta(seconds=1))
    for event in (on_time, late):
        due = datetime.fromisoformat(event["due_at"])
        found = datetime.fromisoformat(event["discovered_at"])
        assert due - found == timedelta(hours=48)
    assert on_time["late"] is False
    assert late["late"] is True
    assert on_time["reporter_kind"] == "collection_agency"


async def test_invalid_reports_are_422(reporter: SignedClient) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    for body, field in [
        ({"discovered_at": future.isoformat()}, "discovered_at"),
        ({"discovered_at": "2026-11-01T09:00:00"}, "discovered_at"),
        ({"category": "bad_weather"}, "category"),
        ({"summary": "  "}, "summary"),
    ]:
        full = {"category": "other", "discovered_at": "2026-11-01T09:00:00+08:00",
                "summary": "x", **body}
        answer = await reporter.post("/v1/risk-events", full)
        assert answer.status_code == 422, (body, answer.text)
        assert field in [e["field"] for e in answer.json()["errors"]]


async def test_reporter_follows_up_others_get_404(
    reporter: SignedClient, operator: SignedClient,
) -> None:
    event = await report(reporter, datetime.now(UTC) - timedelta(hours=1),
                         category="personal_data_breach")
    other = await admit_member(operator, "collection_agency")
    assert (await other.get(f"/v1/risk-events/{event['id']}")).status_code == 404
    refused = await other.post(f"/v1/risk-events/{event['id']}/updates", {"summary": "x"})
    assert refused.status_code == 404
    assert (await operator.post(f"/v1/risk-events/{event['id']}/updates",
                                {"summary": "x"})).status_code == 403
    updated = await reporter.post(f"/v1/risk-events/{event['id']}/updates",
                                  {"summary": "已通知受影响客户", "measures": "更换密钥"})
    assert updated.status_code == 200, updated.text
    assert [u["summary"] for u in updated.json()["updates"]] == ["已通知受影响客户"]
    seen = (await operator.get(f"/v1/risk-events/{event['id']}")).json()
    assert seen["updates"][0]["by"] == reporter.id
    assert event["id"] not in [e["id"] for e in
                               (await other.get("/v1/risk-events")).json()["items"]]


async def test_operators_list_late_reports_first_and_export_csv(
    reporter: SignedClient, operator: SignedClient,
) -> None:
    now = datetime.now(UTC)
    fresh = await report(reporter, now - timedelta(hours=1), summary="=HYPERLINK(\"x\")")
    late = await report(reporter, now - timedelta(hours=50), category="violent_collection")
    seen: list[dict[str, Any]] = []
    target = "/v1/risk-events?limit=1"
    while target:
        page = (await operator.get(target)).json()
        seen += page["items"]
        target = page["next_cursor"] and f"/v1/risk-events?limit=1&cursor={page['next_cursor']}"
    flags = [e["late"] for e in seen]
    assert flags == sorted(flags, reverse=True)
    ids = [e["id"] for e in seen]
    assert ids.index(late["id"]) < ids.index(fresh["id"])
    only_late = (await operator.get("/v1/risk-events?late=true")).json()["items"]
    assert {e["late"] for e in only_late} == {True}

    assert (await reporter.get("/v1/risk-events/export")).status_code == 403
    exported = await operator.get(f"/v1/risk-events/export?since={quote(fresh['reported_at'])}")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    # Excel in Chinese: a BOM so it reads UTF-8, Chinese headers, Beijing times, 是/否.
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["编号"] for r in rows] == [fresh["id"], late["id"]]
    assert rows[1]["逾期报告"] == "是"
    assert rows[0]["逾期报告"] == "否"
    assert rows[0]["概要"].startswith("'=")  # a formula in a report stays text
    assert rows[0]["报告机构编号"] == reporter.id
    assert rows[0]["报告机构"].startswith("测试collection_agency")
    assert rows[0]["报告机构类型"] == "催收机构"
    reported = datetime.fromisoformat(fresh["reported_at"]).astimezone(BEIJING)
    assert rows[0]["报告时间"] == reported.strftime("%Y-%m-%d %H:%M:%S")
