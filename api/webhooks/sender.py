"""Posts one signed webhook delivery, on its own terms: to an address checked after the
name was resolved (the connection goes to that address, so the name cannot be re-pointed
in between), within one deadline for everything, reading no more of the answer than its
status line and headers, up to a size cap. A receiver can make an attempt fail; it cannot
make it hang or grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping

from api.webhooks.targets import Target, TargetRefused, resolve
from registry.events.deliveries import Outcome

USER_AGENT = "collection-registry-webhooks/1"


async def post(
    target: Target, body: bytes, headers: Mapping[str, str], *, deadline_seconds: float,
    max_answer: int, allow_loopback: bool,
) -> Outcome:
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(deadline_seconds):
            addresses = await resolve(target, allow_loopback=allow_loopback)
            status = await _exchange(target, addresses[0], body, headers, max_answer)
            if not 200 <= status < 300:
                error = f"answered {status}"
    except TimeoutError:
        error = f"no answer within {deadline_seconds:g} s"
    except TargetRefused as exc:
        error = f"refused target: {exc}"
    except (asyncio.LimitOverrunError, asyncio.IncompleteReadError):
        error = f"the answer's head was cut short or over {max_answer} bytes"
    except (OSError, ssl.SSLError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Outcome(status, error, int((time.monotonic() - started) * 1000))


async def _exchange(
    target: Target, address: str, body: bytes, headers: Mapping[str, str], max_answer: int
) -> int:
    tls = ssl.create_default_context() if target.scheme == "https" else None
    reader, writer = await asyncio.open_connection(
        address, target.port, ssl=tls, server_hostname=target.host if tls else None,
        limit=max_answer,
    )
    try:
        lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.netloc}",
                 f"User-Agent: {USER_AGENT}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}", "Connection: close",
                 *(f"{name}: {value}" for name, value in headers.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        return _status(head)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


def _status(head: bytes) -> int:
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() \
            or len(parts[1]) != 3:
        raise ValueError("not an HTTP/1.x answer")
    return int(parts[1])
