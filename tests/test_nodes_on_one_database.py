"""Past one machine (DESIGN.md "Scale"): several stateless nodes behind a load balancer on
one PostgreSQL. Two `registry serve` processes with the same node identity (the same key
files, as replicas mounting one Secret) but nothing else shared: a write through one is in
a trace through the other within a second, carried by the database's notifications."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NODE_ID
from tests.support.client import SignedClient
from tests.support.served import served_registry
from tests.support.whitelist import Cast, cast
from tests.test_trace_workers import Remote

SHARED = ("node_key.pem", "console.key", "secrets")  # what a replica's Secret would hold


def _replica_data_dir(first: Path, second: Path) -> None:
    """The identity files of the first node and nothing else (no trace-head, no database)."""
    second.mkdir(parents=True)  # and its parent, the second node's work directory
    for name in SHARED:
        source = first / name
        if source.is_dir():
            shutil.copytree(source, second / name)
        elif source.exists():
            shutil.copy2(source, second / name)


@pytest.fixture(scope="module")
def replicas(database_url: str, tmp_path_factory: pytest.TempPathFactory,
             client: object) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("replicas")
    (root / "a").mkdir()
    with served_registry(root / "a", database_url=database_url, node_id=NODE_ID,
                         data_dir=root / "a" / "data", ready_within=60) as first:
        _replica_data_dir(root / "a" / "data", root / "b" / "data")  # makes root / "b" too
        with served_registry(root / "b", database_url=database_url, node_id=NODE_ID,
                             data_dir=root / "b" / "data", ready_within=60) as second:
            yield first.base, second.base


@pytest.fixture(scope="module")
async def people(operator: SignedClient) -> Cast:
    return await cast(operator)


async def test_a_write_through_one_node_traces_through_the_other_within_a_second(
    replicas: tuple[str, str], people: Cast,
) -> None:
    one, other = replicas
    reachable = [(await Remote(base, people.carrier).send("GET", "/v1/members/"
                 + people.carrier.id)).status_code for base in (one, other)]
    assert reachable == [200, 200]
    for n in range(3):
        value = f"+861360013{n:04d}"
        made = await Remote(one, people.carrier).send("POST", "/v1/resources", {
            "kind": "voice", "value": value, "assignee_id": people.agency.id})
        assert made.status_code == 201, made.text
        started = time.monotonic()
        while (await Remote(other, people.carrier).trace(value))["reason"] != "unconfirmed":
            assert time.monotonic() - started < 1.0, "the other node did not see the supply"
        confirmed = await Remote(other, people.agency).send(
            "POST", f"/v1/resources/{made.json()['id']}/confirm")
        assert confirmed.is_success, confirmed.text
        started = time.monotonic()
        while (await Remote(one, people.agency).trace(value))["reason"] != "no_principal":
            assert time.monotonic() - started < 1.0, "the first node did not see the confirmation"
