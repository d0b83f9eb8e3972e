"""Rendering pages: the Jinja environment, the context every page gets, and HTML error pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from api.console import i18n
from registry.console.sessions import ConsoleSession
from registry.errors import RateLimited, RegistryError

log = structlog.get_logger("api.console")
CHINA = ZoneInfo("Asia/Shanghai")

# Pages load nothing from elsewhere and may not be framed (clickjacking on the console's
# action buttons); no referrer leaves with a number in the URL.
SECURITY_HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value=(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
]
NO_STORE = [ResponseHeader(name="Cache-Control", value="no-store")]


def _local_time(value: datetime | None, with_seconds: bool = False) -> str:
    if value is None:
        return "—"
    shown = value.astimezone(CHINA)
    return shown.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("api", "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["local"] = _local_time
    env.filters["urlencode_path"] = lambda value: quote(str(value), safe="")
    return env


TEMPLATES = TemplateConfig(instance=JinjaTemplateEngine(engine_instance=_environment()))


def lang_of(request: Request[Any, Any, Any]) -> str:
    return i18n.pick_lang(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))


def page(
    request: Request[Any, Any, Any], name: str, *, status_code: int = 200, **context: Any
) -> Response[Any]:
    """Render `name` with what every page needs: language, labels, the signed-in operator."""
    lang = lang_of(request)
    session: ConsoleSession | None = request.scope.get("console_session")  # type: ignore[assignment]
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = {
        "lang": lang, "_": i18n.translator(lang), "label": i18n.labeller(lang),
        "field_error": i18n.field_error(lang), "session": session,
        "csrf": session.csrf_token if session else "",
        "here": here, "other_lang": "en" if lang == "zh" else "zh",
    }
    return Template(template_name=name, context={**base, **context}, status_code=status_code,
                    media_type="text/html")


def local_path(candidate: str | None, fallback: str) -> str:
    """A redirect target that stays on this site (no //host, no scheme)."""
    if candidate and candidate.startswith("/") and not candidate.startswith(("//", "/\\")):
        return candidate
    return fallback


def see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


class NotSignedIn(Exception):
    """The console needs a live session; the answer is the sign-in page."""


class CsrfRefused(Exception):
    """A console form came without its session's CSRF token."""


def on_not_signed_in(request: Request[Any, Any, Any], _: NotSignedIn) -> Response[Any]:
    target = "/console/sign-in"
    if request.method == "GET":
        target += "?next=" + quote(request.url.path, safe="/")
    return see_other(target)


def on_csrf_refused(request: Request[Any, Any, Any], _: CsrfRefused) -> Response[Any]:
    message = i18n.translator(lang_of(request))(
        "表单已失效或来源不明，请返回页面重试。",
        "The form expired or did not come from this site; go back and try again.")
    return page(request, "error.html", status_code=403, status=403, message=message)


def on_registry_error(request: Request[Any, Any, Any], exc: RegistryError) -> Response[Any]:
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    message = i18n.problem_message(lang_of(request), exc.status, exc.detail)
    response = page(request, "error.html", status_code=exc.status, status=exc.status,
                    message=message)
    response.headers.update(headers)
    return response


def on_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    message = i18n.problem_message(lang_of(request), exc.status_code, exc.detail)
    return page(request, "error.html", status_code=exc.status_code,
                status=exc.status_code, message=message)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("console_error", error_type=type(exc).__name__)
    message = i18n.problem_message(lang_of(request), 500, "an unexpected error was logged")
    return page(request, "error.html", status_code=500, status=500, message=message)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotSignedIn: on_not_signed_in,
    CsrfRefused: on_csrf_refused,
    RegistryError: on_registry_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
