"""The OpenAPI document made to state the truth (API.md §1, §2), and the docs page served
from assets shipped with the node.

Litestar describes handlers' success answers well, but knows nothing of the signed
token and gives every operation with parameters a generic 400 whose shape the node never
sends. `truthful()` rewrites the generated document once: the bearer-token security
scheme on every signed path (the same rule as the middleware's), the RFC 9457 problem
answers each operation can give with their stable codes, and descriptions and examples.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import litestar_offline_docs
from litestar import Litestar, Request
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from api.auth.middleware import signed_path
from api.guards import READ_METHODS, READ_ONLY
from api.openapi_text import (
    AUTH_CODES,
    CONFLICTS,
    DESCRIPTIONS,
    NEVER_NOT_FOUND,
    PROBLEM_SCHEMAS,
    RATE_LIMITED,
    REQUEST_EXAMPLES,
    SECURITY_SCHEME,
)

SCHEME = "signedRequest"
ASSETS = "/schema-assets"
_METHODS = ("get", "put", "post", "delete", "patch")


def _problem(status: int, description: str, codes: list[str]) -> dict[str, Any]:
    examples = {code: {"value": {"type": "about:blank", "status": status, "code": code,
                                 "title": description, "detail": "..."}}
                for code in codes}
    return {
        "description": f"{description}: `code` is one of " + ", ".join(f"`{c}`" for c in codes),
        "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}, "examples": examples}},
    }


def problems_of(operation: dict[str, Any], path: str, method: str, read_only: bool
                ) -> dict[str, dict[str, Any]]:
    """The problem answers one operation can give, by status."""
    op_id = operation.get("operationId", "")
    has_body = "requestBody" in operation
    has_path_params = any(p.get("in") == "path" for p in operation.get("parameters", []))
    found: dict[str, dict[str, Any]] = {}
    if has_body:
        found["400"] = _problem(400, "The body is not JSON", ["malformed_body"])
    if signed_path(path):
        found["401"] = _problem(401, "The signed token was refused", list(AUTH_CODES))
        forbidden = ["forbidden", "member_removed"]
        if method.upper() not in READ_METHODS and not read_only:
            forbidden.append("member_suspended")
        found["403"] = _problem(403, "The caller may not do this", forbidden)
    if has_path_params and op_id not in NEVER_NOT_FOUND:
        found["404"] = _problem(404, "No such record visible to the caller", ["not_found"])
    if op_id in CONFLICTS:
        found["409"] = _problem(409, "The records' state refuses it", list(CONFLICTS[op_id]))
    if has_body:
        found["413"] = _problem(413, "The body is too large", ["body_too_large"])
    if has_body or operation.get("parameters"):
        found["422"] = _problem(422, "A field is invalid (each named in `errors`)", ["invalid"])
    if op_id in RATE_LIMITED or path.startswith("/v1/public/"):
        found["429"] = _problem(429, "Too many requests; try again after Retry-After",
                                ["rate_limited"])
    return found


def truthful(generated: dict[str, Any], read_only: frozenset[str]) -> dict[str, Any]:
    """The generated document with security, problems, descriptions and examples."""
    document = copy.deepcopy(generated)
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = SECURITY_SCHEME
    components.setdefault("schemas", {}).update(PROBLEM_SCHEMAS)
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            op_id = operation.get("operationId", "")
            operation["security"] = [{SCHEME: []}] if signed_path(path) else []
            responses = operation.setdefault("responses", {})
            responses.pop("400", None)  # Litestar's generic shape, never sent by this node
            responses.update(problems_of(operation, path, method, op_id in read_only))
            if op_id in DESCRIPTIONS:
                operation["description"] = DESCRIPTIONS[op_id]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and op_id in REQUEST_EXAMPLES:
                body["example"] = REQUEST_EXAMPLES[op_id]
    return document


def read_only_operations(app: Litestar) -> frozenset[str]:
    """POSTs that only read (a batch trace): a suspended member may make them."""
    found = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.opt.get(READ_ONLY) and isinstance(handler.operation_id, str):
                found.add(handler.operation_id)
    return frozenset(found)


class _Truthful:
    """Rewrites once per app (Litestar builds the document once); both render plugins of
    an app serve the same rewritten document."""

    def __init__(self) -> None:
        self._generated: dict[str, Any] | None = None
        self._document: dict[str, Any] = {}

    def __call__(self, request: Request[Any, Any, Any], generated: dict[str, Any]
                 ) -> dict[str, Any]:
        if self._generated is not generated:
            self._document = truthful(generated, read_only_operations(request.app))
            self._generated = generated
        return self._document


class TruthfulJson(JsonRenderPlugin):
    def __init__(self, rewrite: _Truthful) -> None:
        super().__init__()
        self.rewrite = rewrite

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.rewrite(request, openapi_schema))


class LocalSwagger(SwaggerRenderPlugin):
    """Swagger UI from the assets of the litestar-offline-docs package, served by this node:
    no script, style, font or icon from another host (many networks cannot reach CDNs)."""

    def __init__(self, rewrite: _Truthful) -> None:
        super().__init__(
            js_url=f"{ASSETS}/swagger-ui-bundle.js", css_url=f"{ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
            favicon="", path="/")
        self.rewrite = rewrite

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.rewrite(request, openapi_schema))


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """/schema (the docs page) and /schema/openapi.json, for one app."""
    rewrite = _Truthful()
    return [LocalSwagger(rewrite), TruthfulJson(rewrite)]


def asset_router() -> ControllerRouterHandler:
    directory = Path(litestar_offline_docs.__file__).parent / "static"
    return create_static_files_router(path=ASSETS, directories=[directory],
                                      include_in_schema=False, name="schema_assets")

