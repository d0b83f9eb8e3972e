"""Turns every failure into RFC 9457 problem details with a stable `code` (API.md §1)."""

from __future__ import annotations

import re
from typing import Any

import structlog
from asyncpg.exceptions import DataError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from api import metrics
from registry.errors import FieldError, Invalid, RateLimited, RegistryError

MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("api.problems")

_HTTP_CODES = {
    400: "bad_request", 401: "token_missing", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "body_too_large",
    415: "unsupported_media_type", 429: "rate_limited",
}
_TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large", 500: "Internal Server Error"}
_NAMED = re.compile(r"(?:unknown|required) field `([^`]+)`")
_MALFORMED = re.compile(r"malformed|truncated|invalid character|utf-8|decode", re.IGNORECASE)


def problem(
    status: int, title: str, code: str, detail: str, **extra: Any
) -> Response[dict[str, Any]]:
    # The request's log line (api.logging.RequestLog) carries the code with the status.
    structlog.contextvars.bind_contextvars(code=code)
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "code": code, **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(body.pop("retry_after"))
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _errors_json(errors: list[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


def on_registry_error(
    request: Request[Any, Any, Any], exc: RegistryError
) -> Response[dict[str, Any]]:
    metrics.refused(exc.status, exc.code, request.scope.get("path_template") or "?")
    extra: dict[str, Any] = {}
    if isinstance(exc, Invalid):
        extra["errors"] = _errors_json(exc.errors)
    if isinstance(exc, RateLimited):
        extra["retry_after"] = exc.retry_after
    return problem(exc.status, exc.title, exc.code, exc.detail, **extra)


def field_errors(exc: ValidationException) -> list[FieldError]:
    """Litestar's decoding failures, one FieldError per bad field.

    Litestar keeps msgspec's message and the top-level key ("data" for the body itself);
    the field a message names (an unknown or missing one) is appended to that key.
    """
    found = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        key = str(item.get("key") or "data")
        named = _NAMED.search(message)
        parts = [] if key == "data" else [key]
        if named:
            parts.append(named.group(1))
        found.append(FieldError(".".join(parts) or "body", message))
    return found


def on_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        errors = field_errors(exc) or [FieldError("body", exc.detail)]
        return on_registry_error(request, Invalid(errors))
    status = exc.status_code
    if status == 400 and _MALFORMED.search(exc.detail):
        return problem(400, "Bad Request", "malformed_body", f"the body is not JSON: {exc.detail}")
    if status >= 500:
        log.error("http_error", status=status, detail=exc.detail)
    code = _HTTP_CODES.get(status, "error")
    title = _TITLES.get(status, exc.detail if status < 500 else "Error")
    response = problem(status, title, code, exc.detail)
    response.headers.update(exc.headers or {})
    return response


def on_data_error(request: Request[Any, Any, Any], exc: DataError) -> Response[dict[str, Any]]:
    # PostgreSQL refused a value the request carried (a NUL character, a number out of
    # range): the client's input, not our bug.
    log.info("input_refused_by_database", error_type=type(exc).__name__)
    return on_registry_error(
        request, Invalid.field("request", "a value is not acceptable text or is out of range")
    )


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # A 500 is a bug: log the type and place, never the request (it may hold personal data).
    log.exception("unhandled_error", error_type=type(exc).__name__,
                  route=request.scope.get("path_template") or "?")
    return problem(500, "Internal Server Error", "internal", "an unexpected error was logged")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RegistryError: on_registry_error,
    HTTPException: on_http_exception,
    DataError: on_data_error,
    Exception: on_unexpected,
}
