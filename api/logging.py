"""structlog set-up: JSON lines to stdout (console renderer on a terminal), one per request.

Fields are chosen, never whole bodies or headers, so tokens and id numbers cannot leak
into the logs by way of a request dump.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from registry.errors import RegistryError

_json = msgspec.json.Encoder()


def configure_logging(level: int = logging.INFO) -> None:
    renderer: structlog.typing.Processor
    if sys.stdout.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(
            serializer=lambda obj, **_: _json.encode(obj).decode()
        )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )


_access = structlog.get_logger("api.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
            text = value.decode()
            if text.replace("-", "").isalnum():
                return text
    return uuid.uuid4().hex


class RequestLogMiddleware(ASGIMiddleware):
    """Binds request_id and route, and writes one canonical line when the answer is sent."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        structlog.contextvars.clear_contextvars()
        request_id = _request_id(scope)
        # The route template, not the path: paths carry phone numbers.
        route = scope.get("path_template") or "?"
        structlog.contextvars.bind_contextvars(request_id=request_id, route=route)
        started = time.perf_counter()
        status = 500

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await next_app(scope, receive, send_logged)
        except RegistryError as refused:  # answered by the app's handler, outside this one
            status = refused.status
            raise
        except HTTPException as refused:
            status = refused.status_code
            raise
        finally:
            seconds = time.perf_counter() - started
            method = str(scope.get("method", ""))
            _access.info("request", method=method, status=status, ms=round(seconds * 1000, 2))
            metrics.answered(route, method, status, seconds)
