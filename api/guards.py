"""Who may call what: plain guard functions that raise Forbidden (API.md §2, §4).

Guards are coroutines although they never wait: Litestar runs a synchronous guard in a
worker thread, which costs every request a thread hop per guard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from registry.actors import Actor
from registry.errors import Forbidden

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]
READ_METHODS = frozenset({"GET", "HEAD"})
# A POST that only reads (a batch trace, a collector check) sets this in its opt, so that
# a suspended member may still make it.
READ_ONLY = "read_only"
# A write that only takes power away from its caller (revoking one of its own keys): a
# suspended member may make it, so that a compromised key can always be revoked.
DISARMING = "disarming"
# A write a member not yet admitted may make (API.md v1.1): its own disclosure and keys.
PENDING_MAY = "pending_may"
# Routes a peer node may call (the change log and its proofs): every other signed route
# is for members and operators only.
NODES_MAY = "nodes_may"


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    user = connection.scope.get("user")
    if not isinstance(user, Actor):
        raise Forbidden("this endpoint needs a signed request")
    return user


def check_caller(user: Actor, method: str, opt: Mapping[str, Any]) -> None:
    """What every signed route requires of its caller once it is known, checked by the
    signed-request middleware (api/auth/middleware.py) from the route handler's opts
    (Litestar's guards copy the route handler on every request, about 8 µs a guard):

    - a peer node may call only the routes marked NODES_MAY;
    - removed members may do nothing; suspended ones may only read, and disarm; pending
      ones (not yet admitted) may read and keep their own disclosure and keys, which
      handlers check.
    """
    if user.role == "node":
        if not opt.get(NODES_MAY, False):
            raise Forbidden("only members and operators may do this")
        return
    if user.role != "member":
        return
    if user.status == "removed":
        raise Forbidden("this member was removed from the list", code="member_removed")
    if method in READ_METHODS or opt.get(READ_ONLY, False):
        return
    if user.status == "suspended" and not opt.get(DISARMING, False):
        raise Forbidden("this member is suspended and may only read", code="member_suspended")
    if user.status == "pending" and not opt.get(PENDING_MAY, False):
        raise Forbidden("this member is not admitted yet: it may read and keep its own "
                        "disclosure and keys", code="member_pending")


async def operator_only(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    if not actor_of(connection).is_operator:
        raise Forbidden("only association operators may do this")


def members_of_kind(*kinds: str, operators: bool = False) -> Guard:
    """A guard admitting members of the given kinds (and operators, if asked)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = actor_of(connection)
        if operators and actor.is_operator:
            return
        if actor.role != "member" or actor.member_kind not in kinds:
            raise Forbidden(f"only {', '.join(kinds)} members may do this")

    return guard
