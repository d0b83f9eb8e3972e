"""The public pages in a real browser, on a phone-sized screen: number check, disclosures."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.support.client import SignedClient
from tests.support.whitelist import cast, traceable_number

pytestmark = pytest.mark.browser


async def _name_of(operator: SignedClient, member: SignedClient) -> str:
    name: str = (await operator.get(f"/v1/members/{member.id}")).json()["name"]
    return name


async def test_number_check_for_a_traceable_and_an_unknown_number(
    phone: Any, operator: SignedClient,
) -> None:
    c = await cast(operator)
    await traceable_number(c, "+8613800138011")
    await phone.goto("/")
    await phone.get_by_role("heading", level=1).wait_for()
    await phone.get_by_label("来电号码或短信端口号").fill("138 0013 8011")
    await phone.get_by_role("button", name="查询").click()
    verdict = phone.locator("#verdict")
    await verdict.wait_for()
    assert "这是已登记的催收号码" in await verdict.inner_text()
    assert await phone.locator("#verdict-user").inner_text() == await _name_of(operator, c.agency)
    assert await phone.locator("#verdict-principals").inner_text() == await _name_of(
        operator, c.lender)
    await screenshot(phone, "check-registered")

    await phone.get_by_label("来电号码或短信端口号").fill("13912345678")
    await phone.get_by_role("button", name="查询").click()
    await phone.locator("#verdict.unregistered").wait_for()
    assert "不是已登记的催收号码" in await phone.locator("#verdict").inner_text()
    await screenshot(phone, "check-unknown")

    await phone.get_by_role("link", name="English").click()
    await phone.locator("#verdict.unregistered").wait_for()
    assert "not a registered collection number" in await phone.locator("#verdict").inner_text()
    await screenshot(phone, "check-unknown-en")


async def test_a_lenders_disclosure_lists_its_agencies_and_complaint_channels(
    phone: Any, operator: SignedClient,
) -> None:
    c = await cast(operator)
    await traceable_number(c, "+8613800138012")
    await phone.goto(f"/public/lenders/{c.lender.id}")
    agency = await _name_of(operator, c.agency)
    await phone.get_by_role("heading", name=agency).wait_for()
    text = await phone.locator("main").inner_text()
    assert "400-800-1234" in text  # the agency's complaints phone (tests/support/factories)
    await screenshot(phone, "lender-disclosure")
