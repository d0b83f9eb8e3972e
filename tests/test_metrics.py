"""Metrics on their own port, counted across two workers, read by prometheus_client's own
parser: requests by route template and status, latency histograms, auth refusals by code,
rate-limit refusals, trace lookups, the sync status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from registry.db import connect
from registry.principals import create_operator
from tests.support.served import ServedNode, free_port, served_registry
from tests.support.signing import Signer

NODE = "node-metrics"


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def node(database_url: str, tmp_path_factory: pytest.TempPathFactory, metrics_port: int
         ) -> Iterator[ServedNode]:
    workdir: Path = tmp_path_factory.mktemp("metrics-node")
    with served_registry(workdir, database_url=database_url, node_id=NODE, workers=2,
                         env={"REGISTRY_PUBLIC_RATE_PER_MINUTE": "1"},
                         extra_args=("--metrics-port", str(metrics_port))) as served:
        yield served


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_what_the_workers_answered(
    node: ServedNode, database_url: str, metrics_port: int,
) -> None:
    conn = await connect(database_url)
    try:
        made = await create_operator(conn, "监控操作员")
    finally:
        await conn.close()
    signer = Signer(made.id, made.kid, made.private_key, NODE)
    async with httpx.AsyncClient(base_url=node.base) as http:
        for _ in range(3):
            answer = await http.get("/v1/members", headers=signer.headers("GET", "/v1/members"))
            assert answer.status_code == 200
        for _ in range(2):
            target = "/v1/trace/%2B8613800138000"
            assert (await http.get(target, headers=signer.headers("GET", target))
                    ).status_code == 200
        body = b'{"values": ["13800138000", "13800138001", "13800138002"]}'
        batch = await http.post("/v1/trace", content=body,
                                headers=signer.headers("POST", "/v1/trace", body))
        assert batch.status_code == 200
        assert (await http.get("/v1/members")).json()["code"] == "token_missing"
        stale = signer.headers("GET", "/v1/members", exp=1, iat=0)
        assert (await http.get("/v1/members", headers=stale)).status_code == 401
        assert (await http.get("/v1/public/check/13800138000")).status_code == 200
        assert (await http.get("/v1/public/check/13800138000")).status_code == 429
        public = (await http.get("/metrics")).text
        scraped = await http.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30)
        elsewhere = await http.get(f"http://127.0.0.1:{metrics_port}/other", timeout=10)

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = _samples(scraped.text)
    members = {"route": "/v1/members", "method": "GET"}
    assert _value(samples, "registry_http_requests_total", status="200", **members) == 3
    assert _value(samples, "registry_http_requests_total", status="401", **members) == 2
    assert _value(samples, "registry_http_request_seconds_count", status="200", **members) == 3
    assert _value(samples, "registry_http_request_seconds_bucket", status="200", le="+Inf",
                  **members) == 3
    assert _value(samples, "registry_http_request_seconds_sum", status="200", **members) > 0
    assert _value(samples, "registry_auth_refusals_total", code="token_missing") == 1
    assert _value(samples, "registry_auth_refusals_total", code="token_expired") == 1
    assert _value(samples, "registry_rate_limited_total",
                  route="/v1/public/check/{value}") == 1
    assert _value(samples, "registry_trace_lookups_total", endpoint="single") == 2
    assert _value(samples, "registry_trace_lookups_total", endpoint="batch") == 3
    assert _value(samples, "registry_change_log_head_seq", node=NODE) >= 0
    assert ("registry_change_log_head_seq", (("node", NODE),)) in samples
    # The public port keeps request metrics to itself.
    assert "registry_http_requests" not in public
    assert elsewhere.status_code == 404
    assert f"metrics     http://127.0.0.1:{metrics_port}/metrics" in node.log.read_text()
