"""Each origin's Merkle tree kept beside its change log, cut into C2SP tlog-tiles.

Leaf hashes come from the change log itself (the entry's chain hash); the hashes of
complete subtrees at every eighth level (8, 16, ...) are stored in `tlog_hashes`, filled
in by `extend` after entries arrive (not inside each write, so a write costs nothing more).
Anything else is computed from one tile of 256 hashes. A tile of a given width never
changes, so computed tiles are kept in an LRU cache per database.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry.db import Connection
from registry_client import merkle

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_CACHE_TILES = 4096
_EXTEND_CHUNK = TILE_WIDTH * 512  # leaves read per query while catching up

# (tile level, tile index, width) -> that tile's row of hashes
RowSource = Callable[[int, int, int], Awaitable[list[bytes]]]

_LEAVES = """
SELECT hash FROM change_log WHERE origin = $1 AND seq > $2 AND seq <= $3 ORDER BY seq
"""
_STORED = """
SELECT hash FROM tlog_hashes WHERE origin = $1 AND level = $2 AND idx >= $3 AND idx < $4
ORDER BY idx
"""


def tile_levels(row: Sequence[bytes]) -> list[list[bytes]]:
    """Every level a tile spans, from its row of hashes up to the complete subtrees above it."""
    levels = [list(row)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([merkle.node_hash(below[i], below[i + 1])
                       for i in range(0, len(below) - 1, 2)])
    return levels


def subtree_root(row: Sequence[bytes]) -> bytes:
    """MTH of a complete power-of-two row of hashes."""
    return tile_levels(row)[-1][0]


class TileCache:
    """Tiles computed from one database (each node's own: two nodes may share an origin name
    in tests, never a database)."""

    def __init__(self, capacity: int = _CACHE_TILES) -> None:
        self.capacity = capacity
        # The node's own signed checkpoint of the newest head (sync/tlog.py sign_head).
        self.notes: dict[Any, str] = {}
        self.tiles: OrderedDict[tuple[str, int, int, int], list[list[bytes]]] = OrderedDict()

    def get(self, key: tuple[str, int, int, int]) -> list[list[bytes]] | None:
        levels = self.tiles.get(key)
        if levels is not None:
            self.tiles.move_to_end(key)
        return levels

    def put(self, key: tuple[str, int, int, int], levels: list[list[bytes]]) -> None:
        self.tiles[key] = levels
        if len(self.tiles) > self.capacity:
            self.tiles.popitem(last=False)


async def tile_row(
    conn: Connection, origin: str, level: int, index: int, width: int,
) -> list[bytes]:
    """The hashes of tile `level`/`index` of the given width: leaf hashes at level 0, else the
    stored roots of the full tiles below. The caller makes sure the tree covers it."""
    start = index * TILE_WIDTH
    if level == 0:
        rows = await conn.fetch(_LEAVES, origin, start, start + width)
        hashes = [merkle.leaf_hash(bytes.fromhex(r["hash"])) for r in rows]
    else:
        rows = await conn.fetch(_STORED, origin, level * TILE_HEIGHT, start, start + width)
        hashes = [bytes(r["hash"]) for r in rows]
    if len(hashes) != width:
        raise LookupError(f"tile {level}/{index} of {origin} has {len(hashes)} of {width} hashes")
    return hashes


@dataclass
class Tree:
    """The tree of one origin at one size, its tiles read from `rows` through `cache`."""

    origin: str
    size: int
    rows: RowSource
    cache: TileCache = field(default_factory=TileCache)

    async def _tile(self, tile_level: int, tile_index: int) -> list[list[bytes]]:
        # How wide this tile is in a tree of `size` leaves.
        span = TILE_WIDTH ** tile_level
        width = min(TILE_WIDTH, self.size // span - tile_index * TILE_WIDTH)
        key = (self.origin, tile_level, tile_index, width)
        levels = self.cache.get(key)
        if levels is None:
            levels = tile_levels(await self.rows(tile_level, tile_index, width))
            self.cache.put(key, levels)
        return levels

    async def read(self, level: int, index: int) -> bytes:
        """merkle.SubtreeReader over this tree: a complete subtree's hash."""
        tile_level, within = divmod(level, TILE_HEIGHT)
        first = index << within  # its first hash in the tile's row
        levels = await self._tile(tile_level, first >> TILE_HEIGHT)
        return levels[within][(first % TILE_WIDTH) >> within]

    async def root(self) -> bytes:
        return await merkle.root(self.read, self.size)

    async def inclusion(self, index: int) -> list[bytes]:
        return await merkle.inclusion_proof(self.read, index, self.size)

    async def consistency(self, old: int) -> list[bytes]:
        return await merkle.consistency_proof(self.read, old, self.size)


def stored_tree(conn: Connection, origin: str, size: int, cache: TileCache) -> Tree:
    """The tree of `origin` as this database holds it (extend it first)."""
    return Tree(origin, size, functools.partial(tile_row, conn, origin), cache)


async def size_of(conn: Connection, origin: str) -> int:
    seq = await conn.fetchval("SELECT max(seq) FROM change_log WHERE origin = $1", origin)
    return int(seq or 0)


_HELD = """
SELECT (SELECT coalesce(max(seq), 0) FROM change_log WHERE origin = $1) AS size,
       (SELECT coalesce(max(idx) + 1, 0) FROM tlog_hashes WHERE origin = $1 AND level = $2)
       AS tiles
"""


async def extend(conn: Connection, origin: str) -> int:
    """Store the roots of every full tile the chain of `origin` now has; returns its size.

    One round trip when no tile was completed since (the common case); otherwise one
    worker at a time per origin fills in what is missing. Safe to call from anywhere.
    """
    row = await conn.fetchrow(_HELD, origin, TILE_HEIGHT)
    assert row is not None
    if row["size"] >> TILE_HEIGHT == row["tiles"]:
        return int(row["size"])
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tlog ' || $1))", origin)
        size = await size_of(conn, origin)
        level = TILE_HEIGHT
        while size >> level:
            have = await conn.fetchval(
                "SELECT coalesce(max(idx) + 1, 0) FROM tlog_hashes"
                " WHERE origin = $1 AND level = $2", origin, level)
            need = size >> level
            per_query = max(1, _EXTEND_CHUNK >> level)
            for first in range(have, need, per_query):
                last = min(need, first + per_query)
                await _store_roots(conn, origin, level, first, last)
            level += TILE_HEIGHT
        return size


async def _store_roots(conn: Connection, origin: str, level: int, first: int, last: int) -> None:
    """Roots at `level` for indices [first, last), each from 256 hashes a tile-level below."""
    below = level - TILE_HEIGHT
    row_start, row_end = first * TILE_WIDTH, last * TILE_WIDTH
    if below == 0:
        rows = await conn.fetch(_LEAVES, origin, row_start, row_end)
        hashes = [merkle.leaf_hash(bytes.fromhex(r["hash"])) for r in rows]
    else:
        rows = await conn.fetch(_STORED, origin, below, row_start, row_end)
        hashes = [bytes(r["hash"]) for r in rows]
    if len(hashes) != row_end - row_start:
        raise LookupError(f"{origin}: the chain has gaps below level {level}")
    await conn.copy_records_to_table(
        "tlog_hashes", columns=["origin", "level", "idx", "hash"],
        records=[(origin, level, first + i,
                  subtree_root(hashes[i * TILE_WIDTH:(i + 1) * TILE_WIDTH]))
                 for i in range(last - first)])
