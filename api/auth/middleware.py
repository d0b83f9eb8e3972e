"""Authenticates every /v1/ request (but the public ones) by its signed token.

The raw body is read here, checked against the token's `bh`, and handed on unchanged,
so handlers decode exactly the bytes that were signed.
"""

from __future__ import annotations

import time

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from api.auth.verifier import TokenError, verify
from api.body import require_json
from api.guards import check_caller
from api.state import NodeState, node_state
from registry.actors import Actor
from registry.errors import RegistryError
from registry.principals import Standing


class BodyTooLarge(RegistryError):
    status = 413
    title = "Content Too Large"
    code = "body_too_large"


def request_target(scope: Scope) -> str:
    """The path and query exactly as the client sent them: what `htu` must equal."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    # ASGI's raw_path has no query, but some servers (and httpx's test transport) keep it.
    path = raw.partition(b"?")[0].decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def signed_path(path: str) -> bool:
    """Whether requests to `path` must be signed (API.md §2, §9); the OpenAPI document's
    security requirements follow the same rule."""
    return path.startswith("/v1/") and not path.startswith("/v1/public/")


def needs_signature(scope: Scope) -> bool:
    return signed_path(scope["path"])


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body is over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def receive_again() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=False)
        return await receive()

    return receive_again


class SignedRequestMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not needs_signature(scope):
            await next_app(scope, receive, send)
            return
        state = node_state(scope)
        body = await read_body(receive, state.settings.max_body_bytes)
        authorizations = [v for n, v in scope["headers"] if n == b"authorization"]
        if len(authorizations) > 1:  # a proxy might read the first and this node the last
            raise TokenError("token_malformed", "send one Authorization header")
        authorization = authorizations[0].decode("latin-1") if authorizations else None
        method: str = scope["method"]  # type: ignore[typeddict-item]  # HTTP scopes only
        target = request_target(scope)
        verified = await verify(
            authorization, method=method, target=target, body=body,
            audience=state.node_id, now=int(time.time()),
            find_key=lambda iss, kid: state.key_cache.find(state.pool.acquire, iss, kid),
            spend_nonce=lambda iss, kid, jti, exp: _spend_nonce(state, iss, kid, jti, exp),
        )
        key = verified.key
        scope["user"] = actor = Actor(
            id=key.principal_id, role=key.role,  # type: ignore[arg-type]
            member_kind=key.member_kind, status=verified.standing.status,
            token=verified.token, jti=verified.claims.jti, method=method, path=target,
        )
        structlog.contextvars.bind_contextvars(principal=key.principal_id)
        if body:  # also for handlers that take no body: every body is JSON (API.md §1)
            require_json(next((v for n, v in scope["headers"] if n == b"content-type"), None))
        handler = scope.get("route_handler")
        check_caller(actor, method, handler.opt if handler is not None else {})
        await next_app(scope, replaying(body, receive), send)


async def _spend_nonce(
    state: NodeState, iss: str, kid: str, jti: str, exp: int
) -> Standing | None:
    return await state.nonces.spend(iss, kid, jti, exp)
