"""The app's own route table, for tests that must cover every route: one added later is
covered without anyone remembering to list it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from api.auth.middleware import signed_path

_PARAM = re.compile(r"\{[^}]+\}")


def signed_handlers(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, path with made-up ids, handler) of every route a signature is required for."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not signed_path(route.path):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                yield method, _PARAM.sub("x_unknown", route.path), handler
