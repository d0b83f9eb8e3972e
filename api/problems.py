"""Turns every failure into RFC 9457 problem details with a stable `code` (API.md §1)."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

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
# msgspec says where a value failed as "- at `$.keys[0].kid`".
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<field>[^`]*)`)?$", re.DOTALL)


def problem(
    status: int, title: str, code: str, detail: str, **extra: Any
) -> Response[dict[str, Any]]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "code": code, **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(body.pop("retry_after"))
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _errors_json(errors: list[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


def on_registry_error(_: Request[Any, Any, Any], exc: RegistryError) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    if isinstance(exc, Invalid):
        extra["errors"] = _errors_json(exc.errors)
    if isinstance(exc, RateLimited):
        extra["retry_after"] = exc.retry_after
    return problem(exc.status, exc.title, exc.code, exc.detail, **extra)


def field_errors(exc: ValidationException) -> list[FieldError]:
    """Litestar's decoding failures, one FieldError per bad field."""
    found = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        match = _AT.match(str(item.get("message", "")))
        message = match.group("message") if match else str(item.get("message"))
        field = (match.group("field") if match else None) or item.get("key") or "body"
        found.append(FieldError(str(field), message))
    return found


def on_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        if "malformed" in exc.detail.lower() or "json" in exc.detail.lower():
            return problem(400, "Bad Request", "malformed_body", "the body is not valid JSON")
        errors = field_errors(exc) or [FieldError("body", exc.detail)]
        return on_registry_error(request, Invalid(errors))
    status = exc.status_code
    if status >= 500:
        log.error("http_error", status=status, detail=exc.detail)
    code = _HTTP_CODES.get(status, "error")
    title = _TITLES.get(status, exc.detail if status < 500 else "Error")
    headers = exc.headers or {}
    response = problem(status, title, code, exc.detail)
    response.headers.update(headers)
    return response


def on_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # A 500 is a bug: log the type and place, never the request (it may hold personal data).
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return problem(500, "Internal Server Error", "internal", "an unexpected error was logged")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RegistryError: on_registry_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
