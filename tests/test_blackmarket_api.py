"""Black-market intelligence over HTTP: TLP visibility, normalised matching, corroboration, STIX."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import stix2

from tests.support.client import SignedClient
from tests.support.factories import admit_member

SEEN_AT = "2026-11-20T21:30:00+08:00"


@pytest.fixture(scope="module")
async def reporter(operator: SignedClient) -> SignedClient:
    return await admit_member(operator, "collection_agency")


@pytest.fixture(scope="module")
async def other(operator: SignedClient) -> SignedClient:
    return await admit_member(operator, "lender")


def phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


async def report(client: SignedClient, tlp: str, **fields: Any) -> dict[str, Any]:
    body = {"name": f"反催收联盟{secrets.token_hex(3)}", "category": "anti_collection_alliance",
            "tlp": tlp, "aliases": ["债务优化中心"],
            "indicators": [{"type": "domain", "value": f"Fanchuishou-{secrets.token_hex(3)}.COM."}]}
    body.update(fields)
    answer = await client.post("/v1/blackmarket/groups", body)
    assert answer.status_code == 201, answer.text
    group: dict[str, Any] = answer.json()
    return group


async def match(client: SignedClient, *indicators: tuple[str, str]) -> list[dict[str, Any]]:
    answer = await client.post("/v1/blackmarket/match", {
        "indicators": [{"type": t, "value": v} for t, v in indicators]})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["matches"]
    return found


async def test_tlp_visibility_for_reporter_other_member_and_operator(
    reporter: SignedClient, other: SignedClient, operator: SignedClient,
) -> None:
    groups = {tlp: await report(reporter, tlp) for tlp in ("green", "amber", "red")}
    may_see = {
        "reporter": (reporter, {"green", "amber"}),
        "other": (other, {"green"}),
        "operator": (operator, {"green", "amber", "red"}),
    }
    for who, (client, visible) in may_see.items():
        listed = {g["id"] for g in (await client.get("/v1/blackmarket/groups?limit=500"))
                  .json()["items"]}
        for tlp, group in groups.items():
            got = await client.get(f"/v1/blackmarket/groups/{group['id']}")
            assert got.status_code == (200 if tlp in visible else 404), (who, tlp)
            assert (group["id"] in listed) == (tlp in visible), (who, tlp)
            domain = group["indicators"][0]["value"]
            found = await match(client, ("domain", domain))
            names = [g["id"] for m in found for g in m["groups"]]
            assert names == ([group["id"]] if tlp in visible else []), (who, tlp)
    # Who reported a green group is not shown to competitors.
    green = groups["green"]["id"]
    assert (await other.get(f"/v1/blackmarket/groups/{green}")).json()["reporter_id"] is None
    assert (await operator.get(f"/v1/blackmarket/groups/{green}")).json()[
        "reporter_id"] == reporter.id


async def test_indicators_are_normalised_per_type(
    reporter: SignedClient, other: SignedClient,
) -> None:
    number = phone()
    group = await report(reporter, "green", indicators=[
        {"type": "phone", "value": f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"},
        {"type": "domain", "value": "Debt-Relief.EXAMPLE.cn."},
        {"type": "url", "value": "HTTPS://Debt-Relief.Example.cn:443/join?id=1#top"},
        {"type": "wechat", "value": " FanCui_2026 "},
        {"type": "text_fingerprint", "value": "专业  反催收，停息挂账"},
    ])
    values = {i["type"]: i["value"] for i in group["indicators"]}
    assert values["phone"] == f"+86{number}"
    assert values["domain"] == "debt-relief.example.cn"
    assert values["url"] == "https://debt-relief.example.cn/join?id=1"
    assert values["wechat"] == "fancui_2026"
    assert len(values["text_fingerprint"]) == 64
    found = await match(other, ("phone", f"0086{number}"), ("domain", "debt-relief.example.cn"),
                        ("text_fingerprint", "专业 反催收，停息挂账"), ("phone", phone()))
    assert [(m["type"], m["value"]) for m in found] == [
        ("phone", f"+86{number}"), ("domain", "debt-relief.example.cn"),
        ("text_fingerprint", values["text_fingerprint"])]
    bad = await other.post("/v1/blackmarket/match", {"indicators": [
        {"type": "domain", "value": "ok.example.cn"}, {"type": "phone", "value": "不是号码"}]})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["indicators[1].value"]


async def test_sightings_corroborate_an_indicator_by_distinct_members(
    reporter: SignedClient, other: SignedClient, operator: SignedClient,
) -> None:
    number = phone()
    await report(reporter, "green", indicators=[{"type": "phone", "value": number}])
    third = await admit_member(operator, "debt_buyer")
    secretive = await admit_member(operator, "lender")
    for client, spelling, tlp in [
        (reporter, number, "green"),  # the group's own reporter: still one member
        (other, f"+86{number}", "green"),
        (other, f"0086 {number}", "green"),  # the same member twice: still one
        (third, number, "green"),
        (secretive, number, "red"),  # counts only where red may be seen
    ]:
        seen = await client.post("/v1/blackmarket/sightings",
                                 {"type": "phone", "value": spelling, "seen_at": SEEN_AT,
                                  "tlp": tlp})
        assert seen.status_code == 201, seen.text
        assert seen.json()["value"] == f"+86{number}"
    assert [m["reporters"] for m in await match(other, ("phone", number))] == [3]
    assert [m["reporters"] for m in await match(secretive, ("phone", number))] == [3]
    assert [m["reporters"] for m in await match(operator, ("phone", number))] == [4]
    # An indicator only sighted, in no group, still matches with its count.
    lone = phone()
    await third.post("/v1/blackmarket/sightings",
                     {"type": "phone", "value": lone, "seen_at": SEEN_AT})
    assert await match(other, ("phone", lone)) == [
        {"type": "phone", "value": f"+86{lone}", "groups": [], "reporters": 1}]
    naive = await other.post("/v1/blackmarket/sightings",
                             {"type": "phone", "value": lone, "seen_at": "2026-11-20T21:30:00"})
    assert naive.status_code == 422


async def test_reporter_adds_indicators_others_may_not(
    reporter: SignedClient, other: SignedClient,
) -> None:
    group = await report(reporter, "green")
    added = await reporter.post(f"/v1/blackmarket/groups/{group['id']}/indicators",
                                {"indicators": [{"type": "qq", "value": "123456789"}]})
    assert added.status_code == 200, added.text
    assert {"type": "qq", "value": "123456789"} in added.json()["indicators"]
    refused = await other.post(f"/v1/blackmarket/groups/{group['id']}/indicators",
                               {"indicators": [{"type": "qq", "value": "987654321"}]})
    assert refused.status_code == 403


async def test_green_intelligence_exports_as_a_valid_stix_bundle(
    reporter: SignedClient, other: SignedClient, operator: SignedClient,
) -> None:
    number = phone()
    green = await report(reporter, "green", description="以“债务优化”为名收费", indicators=[
        {"type": "phone", "value": number}, {"type": "domain", "value": "tingxi.example.cn"},
        {"type": "url", "value": "https://tingxi.example.cn/a'b"},
        {"type": "wechat", "value": "tingxi_help"}, {"type": "qq", "value": "10001"},
        {"type": "app", "value": "com.example.tingxi"},
        {"type": "payment_account", "value": "6222 0000 1111 2222"},
        {"type": "text_fingerprint", "value": "停息挂账 专业团队"}])
    amber = await report(reporter, "amber")
    await other.post("/v1/blackmarket/sightings",
                     {"type": "phone", "value": number, "seen_at": SEEN_AT})
    answer = await other.get("/v1/blackmarket/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/stix+json")
    bundle = stix2.parse(answer.text, allow_custom=False, version="2.1")
    by_type: dict[str, list[Any]] = {}
    for obj in bundle.objects:
        by_type.setdefault(obj.type, []).append(obj)
    actors = {a.name: a for a in by_type["threat-actor"]}
    assert green["name"] in actors
    assert amber["name"] not in actors
    assert amber["name"] not in answer.text
    patterns = {i.pattern for i in by_type["indicator"]}
    assert f"[x-registry-phone:value = '+86{number}']" in patterns
    assert "[domain-name:value = 'tingxi.example.cn']" in patterns
    assert "[url:value = 'https://tingxi.example.cn/a\\'b']" in patterns
    for indicator in by_type["indicator"]:
        assert indicator.object_marking_refs == [stix2.TLP_GREEN.id]
    target = actors[green["name"]].id
    assert sum(r.target_ref == target for r in by_type["relationship"]) == 8
    assert any(s.count == 1 for s in by_type["sighting"])
    again = stix2.parse((await operator.get("/v1/blackmarket/export")).text, version="2.1")
    assert {o.id for o in again.objects if o.type == "threat-actor"} >= {target}


async def test_amber_sightings_count_for_their_reporter_and_operators_only(
    reporter: SignedClient, other: SignedClient, operator: SignedClient,
) -> None:
    number = phone()
    seen = await reporter.post("/v1/blackmarket/sightings", {
        "type": "phone", "value": number, "seen_at": SEEN_AT, "tlp": "amber"})
    assert seen.status_code == 201
    assert [m["reporters"] for m in await match(reporter, ("phone", number))] == [1]
    assert [m["reporters"] for m in await match(operator, ("phone", number))] == [1]
    assert await match(other, ("phone", number)) == []


async def test_suspended_members_may_match_but_not_report(operator: SignedClient) -> None:
    suspended = await admit_member(operator, "collection_agency", status="suspended")
    assert await match(suspended, ("domain", "nothing.example.cn")) == []
    refused = await suspended.post("/v1/blackmarket/sightings", {
        "type": "domain", "value": "nothing.example.cn", "seen_at": SEEN_AT})
    assert refused.json()["code"] == "member_suspended"
