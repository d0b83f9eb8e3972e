"""The HTTP server process that `registry serve` starts: uvicorn, with TCP_NODELAY, a bound
on request heads, its own logging and no forwarded-address rewriting.

uvicorn makes the socket its workers share with protocol 0, so asyncio does not set
TCP_NODELAY on the connections accepted from it; every keep-alive answer, written as
headers then body, then waits out the client's delayed ACK (about 40 ms): a carrier's
connection would manage some 25 traces a second. Set on the listening socket, Linux hands
the option to every connection accepted from it.

httptools puts no bound on a request's head: a 100 MB Authorization header was read whole
(eight of them took a worker to 1 GB). BoundedHeadProtocol answers 431 once a head passes
MAX_HEAD_BYTES, having held at most that and one read's worth of it.

uvicorn would also believe X-Forwarded-For from 127.0.0.1 (its default); client addresses
are the app's to decide, from REGISTRY_TRUSTED_PROXIES (api/client_address.py).
"""

from __future__ import annotations

import argparse
import os
import socket
import uuid

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from api import lifeline
from api.logging import configure_logging

# Request line and headers together. A signed request's head is well under 10 KiB
# (the token is at most 8 KiB, api/auth/verifier.py).
MAX_HEAD_BYTES = int(os.environ.get("REGISTRY_MAX_HEAD_BYTES", str(32 * 1024)))


class HeadTooLarge(Exception):
    pass


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 to a request head over MAX_HEAD_BYTES."""

    _in_head = True  # from the end of one message until the next one's headers are parsed
    _head_bytes = 0  # bytes read while in a head (whole reads: an upper bound)
    _too_large = False

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still in the head after this read: the parser holds what came, so stop here.
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._send_431()

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > MAX_HEAD_BYTES:
            self._too_large = True
            raise HeadTooLarge  # the parser stops; uvicorn calls send_400_response
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._send_431()
        else:
            super().send_400_response(msg)

    def _send_431(self) -> None:
        if self.transport.is_closing():
            return
        body = (b'{"type":"about:blank","title":"Request Header Fields Too Large",'
                b'"status":431,"detail":"the request line and headers are over '
                + str(MAX_HEAD_BYTES).encode() + b' bytes","code":"headers_too_large"}')
        self.transport.write(b"".join([
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            b"content-type: application/problem+json\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n",
            b"x-request-id: ", uuid.uuid4().hex.encode(), b"\r\n",
            b"connection: close\r\n\r\n", body]))
        self.transport.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="api.http_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    lifeline.die_with_parent()
    # The workers end with this process (api/asgi.py), as this one ends with `serve`.
    os.environ.update(lifeline.children_die_with_me({}))
    configure_logging()
    config = uvicorn.Config(
        "api.asgi:app_from_env", factory=True, host=args.host, port=args.port,
        workers=args.workers, log_level="warning", access_log=False, log_config=None,
        timeout_graceful_shutdown=10, http="api.http_server:BoundedHeadProtocol",
        ws="none", proxy_headers=False,
    )
    if config.workers == 1:
        # asyncio's own listening socket already sets TCP_NODELAY on what it accepts.
        uvicorn.Server(config).run()
        return
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main()
