"""The report form under a number check, in a real browser on a phone-sized screen: a
person reports a call without giving anything about themselves, and the report reaches
the number's user and lender; the same report twice counts once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.support.client import SignedClient
from tests.support.whitelist import cast, traceable_number

pytestmark = pytest.mark.browser


async def report(phone: Any, number: str, category: str, text: str) -> None:
    await phone.goto("/check")
    await phone.get_by_label("来电号码或短信端口号").fill(number)
    await phone.get_by_role("button", name="查询").click()
    await phone.locator("#verdict").wait_for()
    form = phone.locator("#report")
    assert "无需留下您的姓名或电话" in await form.inner_text()
    await form.get_by_label("问题类别").select_option(label=category)
    await form.get_by_label("经过").fill(text)
    await screenshot(phone, "check-report-form")
    await form.get_by_role("button", name="提交举报").click()
    await phone.locator("#reported").wait_for()


async def test_a_person_reports_a_call_and_it_reaches_the_agency_and_lender(
    phone: Any, operator: SignedClient,
) -> None:
    c = await cast(operator)
    await traceable_number(c, "+8613800138021")
    await report(phone, "138 0013 8021", "违规时段催收", "晚上十一点还在打电话")
    assert "举报已收到" in await phone.locator("#reported").inner_text()
    await screenshot(phone, "check-reported")
    # The form asks nothing about the person: its only visible fields are these.
    await phone.goto("/check?number=13800138021")
    names = await phone.locator("#report form :is(input, select, textarea):visible").evaluate_all(
        "els => els.map(e => e.name)")
    assert sorted(names) == ["at", "category", "description"]

    for member in (c.agency, c.lender):
        items = (await member.get("/v1/complaints")).json()["items"]
        assert [(i["source"], i["category"], i["number"]) for i in items] == [
            ("public", "time", "+8613800138021")]
    # The same report again is counted with the first.
    await report(phone, "13800138021", "违规时段催收", "晚上十一点还在打电话")
    assert len((await c.agency.get("/v1/complaints")).json()["items"]) == 1


async def test_a_report_of_an_unregistered_number_goes_to_the_association(
    phone: Any, operator: SignedClient,
) -> None:
    await report(phone, "13912340021", "冒充身份", "自称律师事务所，要求转账")
    found = (await operator.get("/v1/complaints?status=open")).json()["items"]
    mine = [i for i in found if i["number"] == "+8613912340021"]
    assert [r["role"] for r in mine[0]["routed_to"]] == ["operators"]
    matched = await operator.post("/v1/blackmarket/match", {
        "indicators": [{"type": "phone", "value": "13912340021"}]})
    assert matched.json()["matches"][0]["reporters"] == 1
