"""The change feed as it travels (API.md §8): changes with their raw data, and a checkpoint.

`data` is kept as the raw JSON bytes it arrived in: a node sends the canonical bytes it
hashed, so the receiver hashes what it got without decoding, and stores it unchanged.
"""

from __future__ import annotations

import msgspec

NULL = msgspec.Raw(b"null")


class WireChange(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    seq: int
    origin: str
    type: str
    id: str
    op: str
    data_hash: str
    prev: str
    hash: str
    data: msgspec.Raw  # the canonical JSON bytes, or null (tombstone or redacted)
    redacted: bool = False


class Checkpoint(msgspec.Struct, omit_defaults=True):
    """A node's signed statement that the chain of `origin` reached (seq, hash) at `at`.

    `origin` is the node itself for its own chain; a node relaying a peer's chain to its
    own members vouches for it under its own key with origin = that peer.
    """

    node: str
    seq: int
    hash: str
    at: str
    sig: str = ""
    kid: str = ""
    origin: str = ""


class Feed(msgspec.Struct):
    changes: list[WireChange]
    checkpoint: Checkpoint
    # The newest seq of the origin at the node (not signed: it only measures the lag).
    head: int = 0


class Heads(msgspec.Struct):
    """Every origin a node holds and the newest seq of each: what a carrier mirror pulls."""

    node: str
    origins: dict[str, int]


feed_decoder = msgspec.json.Decoder(Feed)
heads_decoder = msgspec.json.Decoder(Heads)
encoder = msgspec.json.Encoder()
