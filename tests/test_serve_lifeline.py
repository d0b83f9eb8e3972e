"""`registry serve` killed outright (SIGKILL: nothing of it runs again) takes its HTTP
server and that server's workers with it: no orphan keeps the port or the database."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from api import lifeline
from tests.support.served import descendants, served_registry


def test_an_http_server_and_its_workers_end_with_their_serve(
    database_url: str, own_tmp: Path,
) -> None:
    with served_registry(own_tmp, database_url=database_url, node_id="node-lifeline",
                         workers=2, ready_within=60) as node:
        children = descendants(node.process.pid)
        assert len(children) >= 3  # the HTTP server and its two workers
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait()
        deadline = time.monotonic() + 20
        while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if _alive(pid)] == []
        try:
            httpx.get(f"{node.base}/healthz", timeout=2)
            served = True
        except httpx.TransportError:
            served = False
        assert not served


def test_a_process_asked_to_watch_itself_watches_nothing(monkeypatch: object) -> None:
    # One worker in process: the server and its app are one process, nothing to watch.
    os.environ[lifeline.PARENT] = str(os.getpid())
    try:
        lifeline.die_with_parent()  # must not signal this very process
    finally:
        del os.environ[lifeline.PARENT]
    assert lifeline.children_die_with_me({})[lifeline.PARENT] == str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: it waits only for its (gone) parent's reaping
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
