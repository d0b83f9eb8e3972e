"""Smoke: one traceable number end to end."""

from __future__ import annotations

from tests.support.client import SignedClient
from tests.support.whitelist import cast, trace, traceable_number


async def test_smoke(operator: SignedClient) -> None:
    c = await cast(operator)
    made = await traceable_number(c, "+86 138-0013-8000")
    assert made["resource"]["value"] == "+8613800138000"
    result = await trace(c.carrier, "13800138000")
    print(result)
    assert result["traceable"] is True, result
    assert result["principals"] == [{"id": c.lender.id, "name": result["principals"][0]["name"]}]
