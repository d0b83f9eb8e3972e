"""`registry keygen`, `registry call`, `--version` and serve's start-up, end to end: a member
onboarded with a key made by keygen, then signed calls with it, all through the command
(run in this process by its `main`, against a node served in another)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.cli import main
from tests.support.factories import member_body
from tests.support.served import ServedNode, served_registry

NODE = "node-cli"
Run = Callable[..., "Done"]


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def registry(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
             ) -> Run:
    """`registry ARGS...` as the console script runs it: exit status, stdout, stderr."""

    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Done:
        monkeypatch.delenv("DATABASE_URL", raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's --version and usage errors
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


@pytest.fixture(scope="module")
def node(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    workdir = tmp_path_factory.mktemp("cli-node")
    with served_registry(workdir, database_url=database_url, node_id=NODE) as served:
        yield served


def test_version_is_printed(registry: Run) -> None:
    done = registry("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("registry ")
    assert done.stdout.split()[1][0].isdigit()


@pytest.mark.parametrize("dsn", [
    "postgresql://someone:s3cret-pw@127.0.0.1:1/registry",
    "postgresql://nobody-here:s3cret-pw@127.0.0.1:5432/nothing",
    "not a dsn s3cret-pw",
])
def test_a_bad_database_url_is_one_line_without_its_password(
    registry: Run, dsn: str, tmp_path: Path,
) -> None:
    done = registry("serve", "--data-dir", str(tmp_path), env={"DATABASE_URL": dsn})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot use DATABASE_URL")
    assert "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr or dsn.startswith("not a dsn")


def test_serve_says_where_everything_is(node: ServedNode, database_url: str) -> None:
    log = node.log.read_text()
    assert f"URL         {node.base}\n" in log
    assert f"console     {node.base}/console" in log
    assert f"node id     {NODE}" in log
    assert "data dir    " in log
    assert "schema      version " in log
    assert database_url.rsplit("/", 1)[-1] in log  # the database's name, no password


def test_a_member_onboarded_with_keygen_then_calls_signed(
    registry: Run, node: ServedNode, database_url: str, tmp_path: Path,
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    added = registry("operator", "add", "命令行操作员", "--key-out", str(tmp_path / "op.pem"),
                     *data, env={"DATABASE_URL": database_url})
    assert added.returncode == 0, added.stderr
    operator = json.loads(added.stdout.strip().splitlines()[-1])

    made = registry("keygen", "--out", str(tmp_path / "member.pem"))
    assert made.returncode == 0, made.stderr
    jwk = json.loads(made.stdout)
    assert set(jwk) == {"kty", "crv", "x", "kid"}
    assert (tmp_path / "member.pem").stat().st_mode & 0o077 == 0
    assert registry("keygen", "--out", str(tmp_path / "member.pem")).returncode == 2

    (tmp_path / "member.json").write_text(json.dumps(member_body("lender", None, keys=[jwk])))
    as_operator = ["--url", node.base, "--as", operator["id"], "--key", str(tmp_path / "op.pem")]
    created = registry("call", "POST", "/v1/members", *as_operator,
                       "--data", f"@{tmp_path / 'member.json'}")
    assert created.returncode == 0, created.stderr
    member = json.loads(created.stdout)
    assert member["status"] == "pending"
    admitted = registry("call", "post", f"/v1/members/{member['id']}/status", *as_operator,
                        "--data", '{"status": "active", "reason": "材料齐全"}')
    assert json.loads(admitted.stdout)["status"] == "active", admitted.stderr

    as_member = ["--url", node.base, "--as", member["id"], "--key", str(tmp_path / "member.pem")]
    own = registry("call", "GET", f"/v1/members/{member['id']}", *as_member)
    assert json.loads(own.stdout)["id"] == member["id"], own.stderr
    # Typed as a person would: "+", spaces and an offset, encoded before signing.
    traced = registry("call", "GET", "/v1/trace/+86 138 0013 8000?at=2026-11-28T09:30:00+08:00",
                      *as_member)
    assert traced.returncode == 0, traced.stderr
    answer = json.loads(traced.stdout)
    assert (answer["value"], answer["reason"]) == ("+8613800138000", "unregistered")
    batch = registry("call", "POST", "/v1/trace", *as_member, "--data", "@-",
                     stdin='{"values": ["13800138000", "+86 139 0000 0000"]}')
    assert [r["value"] for r in json.loads(batch.stdout)["results"]] == [
        "+8613800138000", "+8613900000000"]

    refused = registry("call", "POST", f"/v1/members/{member['id']}/status", *as_member,
                       "--data", '{"status": "removed", "reason": "x"}')
    assert refused.returncode == 1
    assert refused.stdout == ""
    problem = json.loads(refused.stderr)
    assert (problem["status"], problem["code"]) == (403, "forbidden")

    not_json = registry("call", "POST", "/v1/trace", *as_member, "--data", "{values")
    assert not_json.returncode == 2
    assert not_json.stderr.startswith("error: --data is not JSON")
    wrong_key = registry("call", "GET", "/v1/members", "--url", node.base, "--as", member["id"],
                         "--key", str(tmp_path / "op.pem"))
    assert wrong_key.returncode == 1
    assert json.loads(wrong_key.stderr)["code"] == "unknown_key"
