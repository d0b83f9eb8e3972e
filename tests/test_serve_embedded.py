"""`registry serve` without DATABASE_URL: an embedded PostgreSQL, a real server, a signed call.

This is the path a new user takes from the README, so it runs on every test run even on
machines that also have a PostgreSQL service.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry.signing_keys import load_private_key
from tests.support.signing import Signer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _registry(*args: str, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args, "--data-dir", str(data_dir)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REGISTRY_DATA_DIR")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def served_node(own_tmp: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    data_dir = own_tmp / "node"
    log_path = own_tmp / "serve.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        _registry("serve", "--port", str(port), "--node-id", "node-embedded", data_dir=data_dir),
        env=_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                output = log_path.read_text(errors="replace")
                pytest.fail(f"registry serve exited {server.returncode}: {output[-2000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("registry serve did not become ready in 60 s")
            time.sleep(0.2)
        yield base, data_dir
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_serve_runs_on_embedded_postgres_and_answers_a_signed_request(
    served_node: tuple[str, Path],
) -> None:
    base, data_dir = served_node
    key_path = data_dir / "operator.pem"
    added = subprocess.run(
        _registry("operator", "add", "值班员", "--key-out", str(key_path), data_dir=data_dir),
        env=_env(), capture_output=True, text=True, timeout=60, check=True,
    )
    operator = json.loads(added.stdout.strip().splitlines()[-1])
    assert set(operator) == {"id", "kid"}
    assert key_path.stat().st_mode & 0o077 == 0  # the private key is the operator's alone

    node = httpx.get(f"{base}/.well-known/registry-node").json()
    assert node["node_id"] == "node-embedded"
    assert node["api"] == "v1"
    assert node["keys"][0]["crv"] == "Ed25519"
    assert "d" not in node["keys"][0]

    signer = Signer(operator["id"], operator["kid"], load_private_key(key_path), "node-embedded")
    target = "/v1/members?limit=1"
    answer = httpx.get(base + target, headers=signer.headers("GET", target))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"items": [], "next_cursor": None}
    assert (data_dir / "pg" / "PG_VERSION").exists()


def test_serve_stops_its_embedded_postgres_on_exit(own_tmp: Path) -> None:
    port = _free_port()
    data_dir = own_tmp / "node"
    server = subprocess.Popen(_registry("serve", "--port", str(port), data_dir=data_dir),
                              env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (data_dir / "pg" / "postmaster.pid").exists():
        assert time.monotonic() < deadline
        assert server.poll() is None
        time.sleep(0.2)
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert not (data_dir / "pg" / "postmaster.pid").exists()
