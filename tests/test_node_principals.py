"""A peer node's key signs only what peers need: the change log and its proofs (routes
marked NODES_MAY). Every other signed route refuses it, by default, in the signed-request
middleware, so a route added later is closed to nodes without anyone remembering to
guard it. Driven by the app's own route table."""

from __future__ import annotations

import asyncpg
from litestar import Litestar

from api.guards import NODES_MAY
from sync import peers
from tests.support.client import SignedClient
from tests.support.routes import signed_handlers
from tests.support.signing import Signer


def signed_routes(app: Litestar) -> list[tuple[str, str, bool]]:
    """(method, path with made-up ids, open to nodes) of every signed route."""
    return sorted((method, path, bool(handler.opt.get(NODES_MAY)))
                  for method, path, handler in signed_handlers(app)
                  if method not in ("OPTIONS", "HEAD"))


async def test_a_peer_node_may_call_the_log_and_nothing_else(
    app: Litestar, db: asyncpg.Connection, operator: SignedClient,
) -> None:
    node = Signer.new_ed25519("node-elsewhere", operator.signer.audience)
    await peers.add_peer(db, "node-elsewhere", "http://127.0.0.1:9", [node.public_jwk])
    peer = SignedClient(operator.client, node)
    routes = signed_routes(app)
    assert ("GET", "/v1/sync/changes", True) in routes
    assert ("GET", "/v1/trace/x_unknown", False) in routes
    assert len([r for r in routes if not r[2]]) >= 40
    for method, path, open_to_nodes in routes:
        answer = await peer.request(method, path, json={})
        refused = answer.status_code == 403 and "only members and operators" in answer.text
        assert refused is not open_to_nodes, (method, path, answer.status_code, answer.text)
    assert (await peer.get("/v1/sync/heads")).status_code == 200
