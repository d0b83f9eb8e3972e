"""A webhook receiver on a loopback port, in a thread of its own (so it answers while a
test blocks), that records every request and answers as the test scripts it: a status
code, or "hang" (hold the connection without answering until released)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = 0  # an answer that never comes


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int  # the status answered, HANG when it hung
    at: float


@dataclass
class Receiver:
    url: str
    # Answers in order; the last one repeats.
    script: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> int:
        with self.lock:
            n = len(self.received)
        return self.script[min(n, len(self.script) - 1)]

    def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests arrived, wanted {count}")

    async def arrived(self, count: int, within: float = 10.0) -> list[Received]:
        """wait_for, yielding to the event loop (where an in-process node delivers)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests arrived, wanted {count}")

    def ids_answered_2xx(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received
                    if 200 <= r.answered < 300]


@contextmanager
def receiving(script: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver("")
    if script is not None:
        receiver.script = script

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = receiver.next_answer()
            with receiver.lock:
                receiver.received.append(Received(
                    {k.lower(): v for k, v in self.headers.items()}, body, answer,
                    time.monotonic()))
            if answer == HANG:
                receiver.release.wait(60)
                self.close_connection = True
                return
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/registry"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
