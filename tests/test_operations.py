"""Operations basics: logs, health, the OpenAPI schema and the command line's help."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.cli import build_parser
from api.logging import configure_logging
from api.settings import Settings
from tests.support.client import SignedClient
from tests.support.factories import member_body


async def test_health_and_readiness(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_the_node_publishes_its_identity(client: AsyncTestClient[Any]) -> None:
    node = (await client.get("/.well-known/registry-node")).json()
    assert node["node_id"] == "node-test"
    assert node["api"] == "v1"
    (key,) = node["keys"]
    assert {key["kty"], key["crv"]} == {"OKP", "Ed25519"}
    assert "d" not in key


async def test_openapi_31_schema_is_served(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    assert "/v1/members/{member_id}/status" in schema["paths"]
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert "html" in docs.headers["content-type"]


async def test_one_log_line_per_request_without_tokens_or_bodies(
    operator: SignedClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging()
    try:
        capsys.readouterr()
        body = member_body("lender", name="日志测试机构")
        answer = await operator.post("/v1/members", body, jti="log-test-jti-0123456789")
        assert answer.status_code == 201
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
                 if line.startswith("{")]
    finally:
        structlog.reset_defaults()
    (line,) = [entry for entry in lines if entry.get("event") == "request"]
    assert line["principal"] == operator.id
    assert line["route"] == "/v1/members"
    assert line["status"] == 201
    assert answer.headers["x-request-id"] == line["request_id"]
    text = json.dumps(lines, ensure_ascii=False)
    assert "Bearer" not in text
    assert "log-test-jti" not in text
    assert "日志测试机构" not in text
    assert body["uscc"] not in text


def _command_paths(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
    paths = [prefix]
    for action in parser._actions:  # argparse has no public walk of its subcommands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += _command_paths(sub, [*prefix, name])
    return paths


def test_every_command_has_help() -> None:
    parser = build_parser()
    commands = _command_paths(parser, [])
    assert ["operator", "add"] in commands
    for path in commands:
        args = [*path, "--help"]
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(args)
        assert exited.value.code == 0
    listed = subprocess.run([sys.executable, "-m", "api.cli", "--help"], capture_output=True,
                            text=True, check=True).stdout
    for command in ("serve", "migrate", "operator"):
        assert command in listed


async def test_a_node_writes_nothing_into_its_data_directory_when_given_a_runtime_one(
    client: AsyncTestClient[Any], database_url: str, data_dir: Path, tmp_path: Path,
) -> None:
    """As in infra/k8s: the data directory is a read-only Secret, the runtime one an emptyDir.
    (As root no permission bit would stop a write, so the test looks at what was written.)"""
    secrets_dir = tmp_path / "secrets"
    shutil.copytree(data_dir, secrets_dir)  # the module node's keys, made on its first start
    made = {p: p.stat().st_mtime_ns for p in secrets_dir.rglob("*")}
    runtime = tmp_path / "run"
    settings = Settings(database_url=database_url, node_id="node-test", data_dir=secrets_dir,
                        runtime_dir=runtime, sync_enabled=False)
    async with AsyncTestClient(create_app(settings)) as node:
        assert (await node.get("/readyz")).status_code == 200
    assert {p: p.stat().st_mtime_ns for p in secrets_dir.rglob("*")} == made
    assert (runtime / "trace-head").exists()
