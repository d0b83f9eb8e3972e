"""Bad input always gets a clear 4xx problem answer (API.md §1); nothing gets a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.client import SignedClient
from tests.support.factories import admit_member, member_body


def _is_problem(answer: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    assert {"type", "title", "detail", "code"} <= problem.keys()
    if code is not None:
        assert problem["code"] == code, problem
    return problem


@pytest.mark.parametrize(
    "raw", [b"{", b"not json", b"\xff\xfe", b"[1,2", b'{"kind": "lender",}']
)
async def test_malformed_json_is_400(operator: SignedClient, raw: bytes) -> None:
    answer = await operator.request("POST", "/v1/members", raw=raw)
    _is_problem(answer, 400, "malformed_body")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**member_body("lender"), "name": 12}, "name"),
        ({**member_body("lender"), "surprise": True}, "surprise"),
        ({**member_body("lender"), "contact": {"fax": "1"}}, "contact.fax"),
        ({**member_body("lender"), "keys": "k1"}, "keys"),
        ({"kind": "lender"}, "name"),
        ([1, 2, 3], "body"),
        ("a string", "body"),
        (None, "body"),
    ],
)
async def test_wrong_shapes_are_422_with_the_field(
    operator: SignedClient, body: Any, field: str
) -> None:
    raw = b"null" if body is None else None
    answer = await operator.request("POST", "/v1/members", json=body, raw=raw)
    problem = _is_problem(answer, 422, "invalid")
    fields = [e["field"] for e in problem["errors"]]
    assert any(f == field or f.startswith(field) for f in fields), fields


async def test_an_oversized_body_is_413(operator: SignedClient) -> None:
    body = member_body("lender", name="x" * (3 * 1024 * 1024))
    answer = await operator.post("/v1/members", body)
    _is_problem(answer, 413, "body_too_large")


@pytest.mark.parametrize(
    "target",
    ["/v1/members/%00", "/v1/members/%E4%BD%A0%E5%A5%BD", "/v1/members/" + "a" * 3000,
     "/v1/members/m_x/keys/%FF"],
)
async def test_odd_path_values_are_4xx(operator: SignedClient, target: str) -> None:
    answer = await operator.get(target)
    assert 400 <= answer.status_code < 500, answer.text


async def test_unknown_routes_and_methods_are_problems(operator: SignedClient) -> None:
    _is_problem(await operator.get("/v1/nothing-here"), 404, "not_found")
    _is_problem(await operator.request("PUT", "/v1/members"), 405, "method_not_allowed")


async def test_status_body_must_be_complete(operator: SignedClient) -> None:
    member = await admit_member(operator, "lender", status="pending")
    target = f"/v1/members/{member.id}/status"
    for body in ({"status": "frozen", "reason": "x"}, {"reason": "x"}, {"status": 1}):
        problem = _is_problem(await operator.post(target, body), 422, "invalid")
        assert problem["errors"]


async def test_unknown_member_is_404(operator: SignedClient) -> None:
    _is_problem(await operator.get("/v1/members/m_unknown"), 404, "not_found")
    answer = await operator.post("/v1/members/m_unknown/status",
                                 {"status": "active", "reason": "x"})
    _is_problem(answer, 404, "not_found")
