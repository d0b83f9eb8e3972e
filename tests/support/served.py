"""`registry serve` run as the README runs it, in a child process on a free loopback port.

Tests and benchmarks that need the real server (several workers, the embedded
PostgreSQL, wrk from a second process) start it here and nowhere else.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from registry.signing_keys import load_private_key
from tests.support.signing import Signer


@dataclass(frozen=True)
class ServedNode:
    base: str
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served_registry(
    workdir: Path, *, database_url: str | None, node_id: str | None = None, workers: int = 1,
    data_dir: Path | None = None, ready_within: float = 120, env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[ServedNode]:
    """Serve a node until the block ends; database_url None: its embedded PostgreSQL."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items()
                 if k not in ("DATABASE_URL", "REGISTRY_DATA_DIR")}
    child_env.update(env or {})
    child_env["PYTHONUNBUFFERED"] = "1"
    if database_url is not None:
        child_env["DATABASE_URL"] = database_url
    args = [sys.executable, "-m", "api.cli", "serve", "--port", str(port),
            "--workers", str(workers), "--data-dir", str(data_dir or workdir / "data")]
    if node_id is not None:
        args += ["--node-id", node_id]
    args += extra_args
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    node = ServedNode(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_ready(node, ready_within)
        yield node
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_hard(node)  # and whatever it started: no server outlives its test


def _wait_ready(node: ServedNode, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        if node.process.poll() is not None:
            raise RuntimeError(f"registry serve exited {node.process.returncode}: "
                               f"{node.log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{node.base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"registry serve was not ready in {within:.0f} s")
        time.sleep(0.2)


def operator_via_cli(data_dir: Path, name: str, node_id: str) -> tuple[dict[str, str], Signer]:
    """`registry operator add` on a served node's data directory, as an operator would run it;
    returns its JSON answer and a signer with the key it wrote."""
    key_path = data_dir / f"operator-{secrets.token_hex(4)}.pem"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REGISTRY_DATA_DIR")}
    added = subprocess.run(
        [sys.executable, "-m", "api.cli", "operator", "add", name, "--key-out", str(key_path),
         "--data-dir", str(data_dir)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    operator: dict[str, str] = json.loads(added.stdout.strip().splitlines()[-1])
    signer = Signer(operator["id"], operator["kid"], load_private_key(key_path), node_id)
    return operator, signer
def kill_hard(node: ServedNode) -> None:
    """SIGKILL the node and every process under it, as a crash would: nothing cleans up."""
    doomed = [node.process.pid, *descendants(node.process.pid)]
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.process.wait()


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: the ppid follows the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
