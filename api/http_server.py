"""The HTTP server process that `registry serve` starts: uvicorn, with TCP_NODELAY.

uvicorn makes the socket its workers share with protocol 0, so asyncio does not set
TCP_NODELAY on the connections accepted from it; every keep-alive answer, written as
headers then body, then waits out the client's delayed ACK (about 40 ms): a carrier's
connection would manage some 25 traces a second. Set on the listening socket, Linux hands
the option to every connection accepted from it.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="api.http_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        "api.asgi:app_from_env", factory=True, host=args.host, port=args.port,
        workers=args.workers, log_level="warning", access_log=False,
        timeout_graceful_shutdown=10,
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
