"""The OpenAPI document states the truth: it validates, it has the signed-token scheme, it
lists the problem answers each operation really gives, and a generated client parses
every operation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from api.openapi_text import AUTH_CODES
from tests.support.client import SignedClient
from tests.support.factories import member_body

_METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
async def document(client: AsyncTestClient[Any]) -> dict[str, Any]:
    answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {op["operationId"]: (path, method, op)
            for path, item in document["paths"].items()
            for method, op in item.items() if method in _METHODS}


def _codes(operation: dict[str, Any], status: int) -> set[str]:
    examples = operation["responses"][str(status)]["content"]["application/problem+json"]
    return set(examples["examples"])


def test_the_document_is_valid_openapi_31(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_signed_operations_name_the_bearer_scheme_public_ones_none(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]["signedRequest"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "htu" in scheme["description"]
    for op_id, (path, _, operation) in _operations(document).items():
        signed = path.startswith("/v1/") and not path.startswith("/v1/public/")
        assert operation["security"] == ([{"signedRequest": []}] if signed else []), op_id
        assert "400" not in operation["responses"] or _codes(operation, 400) == {
            "malformed_body"}, op_id


def test_trace_and_member_operations_list_their_problem_answers(
    document: dict[str, Any],
) -> None:
    ops = _operations(document)
    trace = ops["Trace"][2]
    assert _codes(trace, 401) == set(AUTH_CODES)
    assert _codes(trace, 403) == {"forbidden", "member_removed"}  # a suspended member reads
    assert _codes(trace, 422) == {"invalid"}
    assert "404" not in trace["responses"]  # any value is answered 200
    batch = ops["TraceBatch"][2]
    assert "member_suspended" not in _codes(batch, 403)  # a read, though a POST
    assert {"400", "401", "403", "413", "422"} <= set(batch["responses"])
    create = ops["CreateMember"][2]
    assert _codes(create, 409) == {"duplicate"}
    assert _codes(create, 403) == {"forbidden", "member_removed", "member_suspended"}
    assert _codes(ops["SetMemberStatus"][2], 409) == {"bad_transition"}
    assert _codes(ops["GetMember"][2], 404) == {"not_found"}
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert create["requestBody"]["content"]["application/json"]["example"]["kind"]
    assert "pending" in create["description"]


async def test_documented_codes_are_the_ones_the_node_answers(
    document: dict[str, Any], client: AsyncTestClient[Any], operator: SignedClient,
) -> None:
    ops = _operations(document)
    unsigned = await client.get("/v1/trace/%2B8613800138000")
    assert unsigned.json()["code"] in _codes(ops["Trace"][2], 401)
    body = member_body("lender")
    assert (await operator.post("/v1/members", body)).status_code == 201
    again = await operator.post("/v1/members", {**body, "name": "另一个名字"})
    assert again.json()["code"] in _codes(ops["CreateMember"][2], 409)
    missing = await operator.get("/v1/members/mem_nothing")
    assert missing.json()["code"] in _codes(ops["GetMember"][2], 404)
    malformed = await operator.request("POST", "/v1/members", raw=b"{not json")
    assert malformed.json()["code"] in _codes(ops["CreateMember"][2], 400)


def test_a_generated_client_parses_every_operation(
    document: dict[str, Any], tmp_path: Path,
) -> None:
    generator = shutil.which("openapi-python-client",
                             path=str(Path(sys.executable).parent))
    assert generator is not None, "openapi-python-client is in the test extras"
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))
    done = subprocess.run(
        [generator, "generate", "--path", str(spec), "--output-path", str(tmp_path / "out"),
         "--config", str(config), "--meta", "none"],
        capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Unable to parse" not in output, output
    assert "WARNING" not in output, output
    modules = {p.stem for p in (tmp_path / "out" / "api").rglob("*.py")} - {"__init__"}
    assert len(modules) == len(_operations(document))
