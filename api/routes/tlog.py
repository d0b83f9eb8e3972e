"""The verifiable log over HTTP (API.md §15): tiles and checkpoint under /tlog/ (public,
C2SP tlog-tiles), witness cosignatures, and proofs for signed callers under /v1/sync/proof/."""

from __future__ import annotations

import base64
from typing import Annotated

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.params import FromPath, QueryParameter

from api.deps import CurrentActor, Db, Node
from api.guards import NODES_MAY
from api.state import NodeState
from registry.errors import Invalid, NotFound
from sync import tlog
from sync.tlog_store import TileCache, Tree, extend, stored_tree

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=5"


class Proof(msgspec.Struct):
    proof: list[str]
    size: int
    root: str


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def tiles(node: NodeState) -> TileCache:
    """The tiles this worker computed from its database, kept for its lifetime."""
    cache: TileCache = node.extras.setdefault("tlog_tiles", TileCache())
    return cache


async def _tree(db: Db, node: NodeState, size: int, field: str) -> Tree:
    held = await extend(db, node.node_id)
    if size > held:
        raise Invalid.field(field, f"the log has {held} entries")
    return stored_tree(db, node.node_id, size, tiles(node))


class TlogController(Controller):
    path = "/tlog"
    tags = ["verifiable log"]

    @get("/checkpoint", operation_id="TlogCheckpoint", media_type=MediaType.TEXT)
    async def checkpoint(self, db: Db, node: Node) -> Response[str]:
        body = await tlog.own_checkpoint(db, node.node_id, node.node_key, tiles(node))
        return Response(body, media_type="text/plain; charset=utf-8",
                        headers={"Cache-Control": SHORT})

    @get("/tile/{level:str}/{rest:path}", operation_id="TlogTile",
         media_type="application/octet-stream")
    async def tile(self, db: Db, node: Node, level: FromPath[str], rest: FromPath[str],
                   ) -> Response[bytes]:
        try:
            path = tlog.parse_tile_path(level, rest.lstrip("/"))
        except ValueError as exc:
            raise NotFound("no such tile", code="not_found") from exc
        body = await tlog.read_tile(db, node.node_id, path)
        if body is None:
            raise NotFound("the log does not hold that tile yet", code="not_found")
        return Response(body, media_type="application/octet-stream",
                        headers={"Cache-Control": IMMUTABLE})

    @get("/cosigned/{origin:str}", operation_id="TlogCosigned", media_type=MediaType.TEXT)
    async def cosigned(self, db: Db, origin: FromPath[str]) -> Response[str]:
        """The newest checkpoint of a peer's log this node verified, with its cosignature."""
        row = await db.fetchrow(
            "SELECT cosigned FROM tlog_checkpoints WHERE origin = $1"
            " ORDER BY size DESC LIMIT 1", origin)
        if row is None:
            raise NotFound(f"this node has witnessed no checkpoint of {origin}")
        return Response(row["cosigned"], media_type="text/plain; charset=utf-8",
                        headers={"Cache-Control": SHORT})


class ProofController(Controller):
    path = "/v1/sync/proof"
    tags = ["verifiable log"]
    opt = {NODES_MAY: True}  # peers and witnesses check what they pulled

    @get("/inclusion", operation_id="InclusionProof")
    async def inclusion(
        self, db: Db, node: Node, actor: CurrentActor,
        seq: Annotated[int, QueryParameter(ge=1)],
        size: Annotated[int, QueryParameter(ge=1)],
    ) -> Proof:
        if seq > size:
            raise Invalid.field("seq", "the entry must be inside the tree (seq <= size)")
        tree = await _tree(db, node, size, "size")
        return Proof(_b64(await tree.inclusion(seq - 1)), size,
                     base64.b64encode(await tree.root()).decode())

    @get("/consistency", operation_id="ConsistencyProof")
    async def consistency(
        self, db: Db, node: Node, actor: CurrentActor,
        from_: Annotated[int, QueryParameter(ge=0, name="from")],
        to: Annotated[int, QueryParameter(ge=0)],
    ) -> Proof:
        if from_ > to:
            raise Invalid.field("from", "must not be greater than to")
        tree = await _tree(db, node, to, "to")
        return Proof(_b64(await tree.consistency(from_)), to,
                     base64.b64encode(await tree.root()).decode())
