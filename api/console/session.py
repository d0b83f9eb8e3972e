"""Staff sign-in: password and TOTP, a server-side session cookie, CSRF on every form.

The session cookie is HttpOnly, SameSite=Strict, Secure (unless turned off for plain-http
development), scoped to /console. Every console POST must echo its session's synchronizer
token; the sign-in form, made before any session exists, echoes a token from its own
short-lived cookie instead (double submit), so a forged login is refused too.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie

from api.client_address import client_address
from api.console.web import CsrfRefused, NotSignedIn, local_path, page, see_other
from api.state import node_state
from registry import ratelimit
from registry.actors import Actor
from registry.console import audit, credentials, sessions, staff
from registry.console.sealing import load_or_create_key
from registry.console.sessions import ConsoleSession
from registry.errors import RateLimited

SESSION_COOKIE = "registry_console"
SIGNIN_COOKIE = "registry_signin"
CSRF_FIELD = "csrf"
PATH = "/console"
# Sign-in attempts per client address per minute, before the per-login lockout applies.
SIGNIN_RATE = 10
PUBLIC = "console_public"  # opt flag: a console route reachable without a session


def _cookie(request: Request[Any, Any, Any], key: str, value: str, max_age: int) -> Cookie:
    settings = node_state(request.scope).settings
    return Cookie(key=key, value=value, path=PATH, max_age=max_age, httponly=True,
                  secure=settings.console_secure_cookies, samesite="strict")


def _expired(request: Request[Any, Any, Any], key: str) -> Cookie:
    return _cookie(request, key, "", 0)


def _idle(request: Request[Any, Any, Any]) -> timedelta:
    return timedelta(minutes=node_state(request.scope).settings.console_idle_minutes)


async def _form_token(request: Request[Any, Any, Any]) -> str:
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


def _same(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


async def require_session(request: Request[Any, Any, Any]) -> None:
    """before_request of every console route: a live session, and on a POST its CSRF token."""
    if request.route_handler.opt.get(PUBLIC):
        return
    session_id = request.cookies.get(SESSION_COOKIE, "")
    state = node_state(request.scope)
    async with state.pool.acquire() as conn:
        session = await sessions.resume_session(conn, session_id, _idle(request))
    if session is None:
        raise NotSignedIn
    request.scope["console_session"] = session  # type: ignore[typeddict-unknown-key]
    if request.method == "POST" and not _same(session.csrf_token, await _form_token(request)):
        raise CsrfRefused


def signed_in(request: Request[Any, Any, Any]) -> ConsoleSession:
    session = request.scope.get("console_session")
    if not isinstance(session, ConsoleSession):
        raise NotSignedIn
    return session


def operator_actor(request: Request[Any, Any, Any]) -> Actor:
    """The signed-in operator as the registry's services know a principal."""
    session = signed_in(request)
    return Actor(id=session.operator_id, role="operator", method=request.method,
                 path=request.url.path)


def _console_key(path: Path) -> bytes:
    """The key that unseals TOTP secrets; without one (a read-only data directory where no
    operator was ever enrolled) no sign-in can succeed, and that is a failed sign-in."""
    try:
        return load_or_create_key(path)
    except (OSError, ValueError) as exc:
        raise credentials.SignInFailed(None, "no console key") from exc


def _sign_in_page(
    request: Request[Any, Any, Any], *, failed: bool = False, status_code: int = 200,
    login: str = "", next_path: str | None = None,
) -> Response[Any]:
    token = secrets.token_urlsafe(32)
    next_path = local_path(next_path or request.query_params.get("next"), PATH)
    response = page(request, "console/sign_in.html", status_code=status_code, signin_token=token,
                    failed=failed, next=next_path, login=login[:100])
    response.set_cookie(_cookie(request, SIGNIN_COOKIE, token, 600))
    return response


@get(f"{PATH}/sign-in", opt={PUBLIC: True}, include_in_schema=False)
async def sign_in_form(request: Request[Any, Any, Any]) -> Response[Any]:
    return _sign_in_page(request)


@post(f"{PATH}/sign-in", opt={PUBLIC: True}, include_in_schema=False)
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    if not _same(request.cookies.get(SIGNIN_COOKIE, ""), await _form_token(request)):
        raise CsrfRefused
    state = node_state(request.scope)
    client = client_address(request.scope, state.settings.trusted_proxies)
    fields = {k: str(form.get(k) or "") for k in ("login", "password", "code", "next")}
    async with state.pool.acquire() as conn:
        try:
            await ratelimit.hit(conn, f"console-sign-in:{client}", SIGNIN_RATE)
            operator_id = await credentials.authenticate(
                conn, _console_key(state.settings.console_key_file),
                fields["login"], fields["password"], fields["code"], client=client)
            if await staff.role_of(conn, operator_id) is None:
                raise credentials.SignInFailed(operator_id, "disabled")
        except credentials.SignInFailed as failure:
            await audit.record(conn, failure.operator_id, "sign_in_failed",
                               detail={"why": failure.why, "client": client})
            return _sign_in_page(request, failed=True, status_code=401,
                                 login=fields["login"], next_path=fields["next"])
        except RateLimited:
            return _sign_in_page(request, failed=True, status_code=429,
                                 login=fields["login"], next_path=fields["next"])
        lifetime = timedelta(hours=state.settings.console_session_hours)
        async with conn.transaction():
            await sessions.purge_ended(conn, _idle(request))
            session_id = await sessions.open_session(conn, operator_id, lifetime)
            await audit.record(conn, operator_id, "sign_in", detail={"client": client})
    response = see_other(local_path(fields["next"], PATH))
    response.set_cookie(_cookie(request, SESSION_COOKIE, session_id,
                                int(lifetime.total_seconds())))
    response.set_cookie(_expired(request, SIGNIN_COOKIE))
    return response


@post(f"{PATH}/sign-out", include_in_schema=False)
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    session = signed_in(request)
    async with node_state(request.scope).pool.acquire() as conn, conn.transaction():
        await sessions.close_session(conn, request.cookies.get(SESSION_COOKIE, ""))
        await audit.record(conn, session.operator_id, "sign_out")
    response = see_other(f"{PATH}/sign-in")
    response.set_cookie(_expired(request, SESSION_COOKIE))
    return response


ROUTES = [sign_in_form, sign_in, sign_out]
