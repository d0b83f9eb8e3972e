"""The verifiable log a node publishes and checks (API.md §15, docs/tlog.md).

A node signs a checkpoint note of its own tree; it reads its peers' notes, checks each
against its last one by a consistency proof (a fork is a fault), and cosigns what it
verified, as a witness. Tile paths are parsed here, for the HTTP layer to serve.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.db import Connection
from registry_client import merkle, note
from sync.errors import SyncFault
from sync.tlog_store import TILE_WIDTH, TileCache, extend, stored_tree, tile_row

_TILE_PATH = re.compile(r"^(?P<n>(?:x\d{3}/)*\d{3})(?:\.p/(?P<w>[1-9]\d{0,2}))?$")
MAX_TILE_LEVEL = 7  # 256**8 leaves is past any log this registry will hold


@dataclass(frozen=True, slots=True)
class TilePath:
    level: int  # tile level, or -1 for an entry bundle
    index: int
    width: int  # 256 for a full tile

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH


def parse_tile_path(level: str, rest: str) -> TilePath:
    """`<L>/<N>[.p/<W>]` of C2SP tlog-tiles; `entries` as L for an entry bundle."""
    match = _TILE_PATH.match(rest)
    if match is None or not (level == "entries" or re.fullmatch(r"0|[1-9]\d?", level)):
        raise ValueError("not a tile path")
    tile_level = -1 if level == "entries" else int(level)
    if tile_level > MAX_TILE_LEVEL:
        raise ValueError("no tile at that level")
    index = int(match["n"].replace("x", "").replace("/", ""))
    width = int(match["w"]) if match["w"] else TILE_WIDTH
    if width > TILE_WIDTH - 1 and match["w"]:
        raise ValueError("a partial tile is 1 to 255 wide")
    if len(match["n"]) > 3 and match["n"].startswith("x000"):
        raise ValueError("a tile index has no leading zero groups")
    return TilePath(tile_level, index, width)


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a tile below the prefix, as parse_tile_path reads it."""
    digits = f"{index:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    name = "/".join([*("x" + g for g in groups[:-1]), groups[-1]])
    suffix = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/{level}/{name}{suffix}"


async def read_tile(conn: Connection, origin: str, path: TilePath) -> bytes | None:
    """The tile's bytes, or None when the tree does not (yet) hold that tile at that width."""
    size = await extend(conn, origin)
    level = max(path.level, 0)
    # A partial tile is a prefix of its full tile: any width the tree already holds is served.
    if size // TILE_WIDTH ** level - path.index * TILE_WIDTH < path.width:
        return None
    if path.level < 0:
        start = path.index * TILE_WIDTH
        rows = await conn.fetch(
            "SELECT hash FROM change_log WHERE origin = $1 AND seq > $2 AND seq <= $3"
            " ORDER BY seq", origin, start, start + path.width)
        return b"".join(b"\x00\x20" + bytes.fromhex(r["hash"]) for r in rows)
    return b"".join(await tile_row(conn, origin, level, path.index, path.width))


async def tree_head(
    conn: Connection, origin: str, cache: TileCache, size: int | None = None,
) -> note.TreeHead:
    """The head of `origin`'s tree at `size` (default: all of it held here)."""
    held = await extend(conn, origin)
    size = held if size is None else size
    if not 0 <= size <= held:
        raise LookupError(f"the log of {origin} has {held} entries, not {size}")
    return note.TreeHead(origin, size, await stored_tree(conn, origin, size, cache).root())


async def own_checkpoint(
    conn: Connection, node_id: str, key: Ed25519PrivateKey, cache: TileCache,
) -> str:
    return sign_head(await tree_head(conn, node_id, cache), key, cache)


def sign_head(head: note.TreeHead, key: Ed25519PrivateKey, cache: TileCache) -> str:
    """The checkpoint note of the node's own tree, signed by its node key (once a head)."""
    signed = cache.notes.get(head)
    if signed is None:
        text = head.text()
        signed = note.render(text, [note.sign(text, head.origin, key)])
        cache.notes = {head: signed}  # only the newest is asked for again
    return signed


def claimed_size(signed_note: str) -> int:
    """The tree size a checkpoint claims, read before its signature is checked."""
    try:
        return note.tree_head(note.parse(signed_note)[0]).size
    except note.NoteError as exc:
        raise SyncFault(f"tree checkpoint: {exc}") from exc


async def last_verified(conn: Connection, origin: str) -> note.TreeHead | None:
    row = await conn.fetchrow(
        "SELECT size, root FROM tlog_checkpoints WHERE origin = $1 ORDER BY size DESC LIMIT 1",
        origin)
    return None if row is None else note.TreeHead(origin, row["size"], bytes(row["root"]))


def next_head(
    before: note.TreeHead | None, signed_note: str, log: note.Verifier, proof: list[bytes],
) -> tuple[note.TreeHead, list[note.Signature]]:
    """Check a log's checkpoint against the last head accepted from it (`proof` proves the
    smaller of the two consistent with the larger). Raises SyncFault on a bad signature or
    a fork; the caller keeps the answer as its new head when it is the larger."""
    try:
        head, signatures = note.open_checkpoint(signed_note, log)
    except note.NoteError as exc:
        raise SyncFault(f"tree checkpoint: {exc}") from exc
    if before is not None:
        old, new = (before, head) if before.size <= head.size else (head, before)
        try:
            merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
        except merkle.ProofError as exc:
            raise SyncFault(f"fork: the tree of {head.origin} at {head.size} is not consistent"
                            f" with the one at {before.size}: {exc}") from exc
    return head, signatures


async def accept_peer_checkpoint(
    conn: Connection, *, signed_note: str, peer: note.Verifier, proof: list[bytes],
    witness_id: str, witness_key: Ed25519PrivateKey,
) -> note.TreeHead:
    """Verify a peer's checkpoint against the last one accepted (next_head) and keep it with
    this node's cosignature, as a witness."""
    before = await last_verified(conn, peer.name)
    head, signatures = next_head(before, signed_note, peer, proof)
    text = head.text()
    cosignature = note.cosign(text, witness_id, witness_key, int(time.time()))
    await conn.execute(
        "INSERT INTO tlog_checkpoints (origin, size, root, note, cosigned)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        head.origin, head.size, head.root, signed_note,
        note.render(text, [*signatures, cosignature]))
    return head
