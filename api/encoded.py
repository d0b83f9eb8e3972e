"""An answer already encoded as JSON, sent as it is: a bare ASGI app a handler returns.

Litestar's own response classes build a header collection, look for cookies and
background tasks on every answer; for the trace lookup carriers make on every call that
was a measurable share of its time (README, "Ingest and signed traces at scale"). What
every answer gets from outside the handler (the request id, the log line) wraps `send`
and is unchanged.
"""

from __future__ import annotations

from litestar.types import Receive, Scope, Send

_JSON = (b"content-type", b"application/json")


class EncodedJSON:
    """A 200 answer whose body is JSON already."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [_JSON, (b"content-length", str(len(self.body)).encode())]})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})
