"""Everything the app mounts for people rather than programs: console, public pages, assets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import Cookie
from litestar.static_files import create_static_files_router

from api.console import (
    complaints,
    entrustments,
    i18n,
    ledger,
    member_form,
    members,
    overview,
    public,
    queues,
    session,
    staff,
)
from api.console.web import (
    EXCEPTION_HANDLERS,
    NO_STORE,
    SECURITY_HEADERS,
    local_path,
    see_other,
)


@get("/lang", include_in_schema=False)
async def choose_language(request: Request[Any, Any, Any]) -> Response[Any]:
    chosen = i18n.pick_lang(request.query_params.get("to"), None)
    response = see_other(local_path(request.query_params.get("next"), "/"))
    response.set_cookie(Cookie(key=i18n.COOKIE, value=chosen, path="/", max_age=365 * 86400,
                               samesite="lax"))
    return response


CONSOLE = Router(
    path="/", route_handlers=[*session.ROUTES, *member_form.ROUTES, *members.ROUTES,
                              *overview.ROUTES, *queues.ROUTES, *staff.ROUTES,
                              *ledger.ROUTES, *entrustments.ROUTES, *complaints.ROUTES],
    before_request=session.require_session, exception_handlers=EXCEPTION_HANDLERS,
    response_headers=[*SECURITY_HEADERS, *NO_STORE], include_in_schema=False,
)
PUBLIC = Router(
    path="/", route_handlers=[choose_language, *public.ROUTES],
    exception_handlers=EXCEPTION_HANDLERS,
    response_headers=SECURITY_HEADERS, include_in_schema=False,
)
STATIC = create_static_files_router(
    path="/static", directories=[Path(str(resources.files("api") / "static"))],
    include_in_schema=False, cache_control=None,
)
ROUTES = [CONSOLE, PUBLIC, STATIC]
