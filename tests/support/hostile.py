"""A hostile peer for tests: a raw socket on loopback that answers any request one way.

A raw socket, so that it can send what no HTTP framework would: a body never finished,
bytes that are not UTF-8, an answer that is not HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.signing_keys import public_jwk_of

Answer = Callable[["Writer"], Awaitable[None]]


class HostilePeer:
    """Answers every request one way and counts the requests and the bytes it got out."""

    def __init__(self, node_id: str, answer: Answer) -> None:
        self.node_id, self.answer = node_id, answer
        self.jwk = public_jwk_of(Ed25519PrivateKey.generate())
        self.requests = 0
        self.sent = 0
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:  # keep-alive: every request on the connection gets the same answer
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                await self.answer(Writer(writer, self))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)


class Writer:
    """A writer that counts what the peer managed to send."""

    def __init__(self, writer: asyncio.StreamWriter, peer: HostilePeer) -> None:
        self.writer, self.peer = writer, peer

    def write(self, data: bytes) -> None:
        self.peer.sent += len(data)
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()


def json_answer(body: bytes, status: str = "200 OK", **headers: str) -> Answer:
    """Answer with `body`, its length declared."""
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    head = (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}"
            f"content-length: {len(body)}\r\n\r\n").encode()

    async def answer(writer: Writer) -> None:
        writer.write(head + body)
        await writer.drain()
    return answer
