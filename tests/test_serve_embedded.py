"""`registry serve` without DATABASE_URL: an embedded PostgreSQL, a real server, a signed call.

This is the path a new user takes from the README, so it runs on every test run even on
machines that also have a PostgreSQL service.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.served import operator_via_cli, served_registry


@pytest.fixture
def served_node(own_tmp: Path) -> Iterator[tuple[str, Path]]:
    data_dir = own_tmp / "node"
    with served_registry(own_tmp, database_url=None, node_id="node-embedded",
                         data_dir=data_dir, ready_within=60) as node:
        yield node.base, data_dir


def test_serve_runs_on_embedded_postgres_and_answers_a_signed_request(
    served_node: tuple[str, Path],
) -> None:
    base, data_dir = served_node
    operator, signer = operator_via_cli(data_dir, "值班员", "node-embedded")
    assert set(operator) == {"id", "kid"}
    for key_path in data_dir.glob("operator-*.pem"):
        assert key_path.stat().st_mode & 0o077 == 0  # the private key is the operator's alone

    node = httpx.get(f"{base}/.well-known/registry-node").json()
    assert node["node_id"] == "node-embedded"
    assert node["api"] == "v1"
    assert node["keys"][0]["crv"] == "Ed25519"
    assert "d" not in node["keys"][0]

    target = "/v1/members?limit=1"
    answer = httpx.get(base + target, headers=signer.headers("GET", target))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"items": [], "next_cursor": None}
    assert (data_dir / "pg" / "PG_VERSION").exists()


def test_serve_stops_its_embedded_postgres_on_exit(own_tmp: Path) -> None:
    data_dir = own_tmp / "node"
    with served_registry(own_tmp, database_url=None, data_dir=data_dir) as node:
        assert (data_dir / "pg" / "postmaster.pid").exists()
    assert node.process.returncode == 0
    assert not (data_dir / "pg" / "postmaster.pid").exists()

