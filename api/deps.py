"""Dependencies every controller uses: a pooled connection and the acting principal."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

from litestar import Request
from litestar.di import Dependency, NamedDependency, Provide
from litestar.params import QueryParameter, SkipValidationMarker

from api.state import NodeState, node_state
from registry.actors import Actor
from registry.db import Connection
from registry.errors import Forbidden


async def provide_db(request: Request[Any, Any, Any]) -> AsyncGenerator[Connection, None]:
    async with node_state(request.scope).pool.acquire() as conn:
        yield conn


def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    user = request.scope.get("user")
    if not isinstance(user, Actor):
        raise Forbidden("this endpoint needs a signed request")
    return user


def provide_node(request: Request[Any, Any, Any]) -> NodeState:
    return node_state(request.scope)


DEPENDENCIES = {
    "db": Provide(provide_db),
    "actor": Provide(provide_actor, sync_to_thread=False),
    "node": Provide(provide_node, sync_to_thread=False),
}

# Handlers name their dependencies by these types, so injection is explicit (Litestar 3).
# A pool connection is not a value to validate: skip it (it would also confuse msgspec).
Db = Annotated[Connection, Dependency(), SkipValidationMarker()]
CurrentActor = NamedDependency[Actor]
Node = NamedDependency[NodeState]
# One page size rule for every listing: 1 to 500 items.
PageLimit = Annotated[int, QueryParameter(ge=1, le=500)]
