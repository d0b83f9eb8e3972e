"""Federation over HTTP (API.md §8): the change feed, origins held, sync status, metrics.

The feed is read by peer nodes (their node key, full data of the types their policy
lists), by members (what they could read through the regular endpoints, and for an
active carrier the trace records its mirror needs) and by operators (all); see
sync/feed.py and docs/federation.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated

from litestar import Controller, Litestar, MediaType, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter

from api.background import running
from api.deps import CurrentActor, Db, Node
from api.guards import NODES_MAY, operator_only
from api.state import NodeState
from registry.actors import Actor
from registry.db import Connection
from registry.errors import Forbidden
from registry.records import Reader
from sync import feed, peers
from sync.client import AnswerLimits
from sync.puller import NodeIdentity, PullSettings, run_puller
from sync.status import SyncStatus, metrics_text, sync_status
from sync.wire import Heads


async def _audience(
    conn: Connection, node: NodeState, actor: Actor, origin: str
) -> feed.Audience:
    """Whose data this reader receives in full; refuses what it may not read at all."""
    if actor.role == "node":
        if origin != node.node_id:
            raise Forbidden("a peer pulls each origin from that origin's own node")
        return feed.PeerNode((await peers.get_peer(conn, actor.id)).send_types)
    if actor.role == "member":
        return feed.MemberReader(Reader(actor.id, actor.member_kind, actor.status))
    return feed.Operators()


class SyncController(Controller):
    path = "/v1/sync"
    tags = ["federation"]
    opt = {NODES_MAY: True}  # peers pull the log here

    @get("/changes", operation_id="SyncChanges")
    async def changes(
        self, db: Db, node: Node, actor: CurrentActor,
        after: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=feed.MAX_LIMIT)] = 1000,
        origin: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        chain = origin or node.node_id
        audience = await _audience(db, node, actor, chain)
        if chain != node.node_id:
            await peers.get_peer(db, chain)  # 404 for an origin this node does not hold
        body = await feed.read_page(
            db, node_id=node.node_id, node_key=node.node_key, kid=node.node_jwk["kid"],
            origin=chain, after=after, limit=limit, audience=audience)
        return Response(body, media_type=MediaType.JSON)

    @get("/heads", operation_id="SyncHeads")
    async def heads(self, db: Db, node: Node) -> Heads:
        return await feed.origins(db, node.node_id)

    @get("/status", operation_id="SyncStatus", guards=[operator_only])
    async def status(self, db: Db, node: Node) -> SyncStatus:
        return await sync_status(db, node.node_id)

    @post("/peers/{peer_id:str}/resume", operation_id="ResumePeer", guards=[operator_only],
          status_code=200)
    async def resume(self, db: Db, peer_id: FromPath[str]) -> dict[str, str]:
        await peers.clear_fault(db, peer_id)
        return {"peer": peer_id, "status": "resumed"}


@get("/metrics", operation_id="Metrics", tags=["node"], media_type=MediaType.TEXT)
async def metrics(db: Db, node: Node) -> str:
    return metrics_text(await sync_status(db, node.node_id))


ROUTES: list[type[Controller] | HTTPRouteHandler] = [SyncController, metrics]


@contextlib.asynccontextmanager
async def puller_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    """Pull from every peer in the background while the node runs (one worker pulls)."""
    state: NodeState = app.state.node
    settings = state.settings
    if not settings.sync_enabled:
        yield
        return
    me = NodeIdentity(state.node_id, state.node_key, state.node_jwk["kid"])
    # New peers are noticed within a few intervals (at most 5 s).
    pulling = PullSettings(settings.sync_interval, settings.sync_page_limit,
                           lock_retry=min(5.0, max(0.5, settings.sync_interval * 5)),
                           max_backoff=settings.sync_max_backoff,
                           answers=AnswerLimits(settings.sync_page_seconds,
                                                settings.sync_bytes_per_change))
    async with running(run_puller(state.pool, me, pulling)):
        yield



