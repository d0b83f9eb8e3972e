"""Checks a page of a peer's feed before anything from it is applied (API.md §8).

The steps follow the contract: each change names the origin asked for, follows the
previous one without a gap, re-hashes from the data it carries to its `data_hash`,
links to the previous `hash`, and the page ends where a checkpoint signed by the
serving node says the chain stands. Anything else raises SyncFault.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from registry.canonical import canonical
from registry.changelog import OPS, entry_hash
from sync import checkpoint
from sync.errors import SyncFault
from sync.wire import Feed, WireChange

_HEX64 = re.compile(r"[0-9a-f]{64}")


class Verified(msgspec.Struct, frozen=True):
    """A change whose place in the chain is proven; `data` is its canonical JSON, or None."""

    seq: int
    origin: str
    type: str
    id: str
    op: str
    data: bytes | None
    data_hash: str
    prev: str
    hash: str
    redacted: bool


def _canonical_data(change: WireChange) -> bytes | None:
    """The change's data as the canonical bytes its data_hash covers (None when absent)."""
    raw = bytes(change.data)
    if change.redacted:
        if raw != b"null":
            raise SyncFault("a redacted change carries data", change.seq)
        return None
    if hashlib.sha256(raw).hexdigest() != change.data_hash:
        # A sender may have spelled the JSON its own way; its canonical form must match.
        try:
            raw = canonical(msgspec.json.decode(raw))
        except (msgspec.DecodeError, RecursionError, TypeError, ValueError) as exc:
            # RecursionError: nested deeper than any record is; refused like garbage.
            raise SyncFault("data is not JSON", change.seq) from exc
        if hashlib.sha256(raw).hexdigest() != change.data_hash:
            raise SyncFault("data does not hash to data_hash", change.seq)
    if change.op == "delete":
        if raw != b"null":
            raise SyncFault("a delete carries data", change.seq)
        return None
    if not raw.startswith(b"{"):
        raise SyncFault("an upsert's data is not an object", change.seq)
    return raw


def verify_page(
    feed: Feed, *, node: str, origin: str, keys: Iterable[dict[str, Any]],
    after_seq: int, after_hash: str, held: Mapping[int, str],
) -> list[Verified]:
    """The changes of `feed` past `after_seq`, each proven; duplicates of held ones dropped.

    `held` maps seqs at or below after_seq to the hashes already held for them: a change
    sent again must be that very change, and is then skipped (applied once only).
    """
    proven, seq, link = verify_chain(feed.changes, origin=origin, after_seq=after_seq,
                                     after_hash=after_hash, held=held)
    _check_checkpoint(feed, node=node, origin=origin, keys=keys, seq=seq, link=link,
                      after_seq=after_seq)
    return proven


def verify_chain(
    changes: Iterable[WireChange], *, origin: str, after_seq: int, after_hash: str,
    held: Mapping[int, str],
) -> tuple[list[Verified], int, str]:
    """Steps 1 to 5 over `changes`, which continue the chain at (after_seq, after_hash):
    the proven changes, and the seq and hash the chain then stands at. Also what
    `registry verify` runs over the log a node holds (sync/self_check.py)."""
    seq, link = after_seq, after_hash
    proven: list[Verified] = []
    proven_hashes: dict[int, str] = {}
    for change in changes:
        # 1. It names the origin asked for: no node speaks for another.
        if change.origin != origin:
            raise SyncFault(f"change names origin {change.origin!r} in the feed of {origin!r}",
                            change.seq)
        # 2. Sent again: it must be what is held, and it is not applied twice.
        if change.seq <= seq:
            known = held.get(change.seq) or proven_hashes.get(change.seq)
            if known is not None and known != change.hash:
                raise SyncFault("differs from the change already held at this seq", change.seq)
            continue
        # 3. No gap, no reordering.
        if change.seq != seq + 1:
            raise SyncFault(f"expected seq {seq + 1}, got {change.seq}", change.seq)
        # 4. Well formed, and its data hashes to data_hash.
        if change.op not in OPS or not change.type or not change.id:
            raise SyncFault("malformed change", change.seq)
        # Data hashed to data_hash, and a hash recomputed equal, are hex by construction;
        # only a redacted change's data_hash is taken as sent, so only it is checked.
        if change.redacted and not _HEX64.fullmatch(change.data_hash):
            raise SyncFault("data_hash must be 64 lower-case hex digits", change.seq)
        data = _canonical_data(change)
        # 5. It links to the previous change and re-hashes to its hash.
        if change.prev != link:
            raise SyncFault("prev does not link to the previous change's hash", change.seq)
        expected = entry_hash(prev=link, seq=change.seq, origin=change.origin, type=change.type,
                              id=change.id, op=change.op, data_hash=change.data_hash)
        if expected != change.hash:
            raise SyncFault("hash does not match the change", change.seq)
        proven.append(Verified(change.seq, change.origin, change.type, change.id, change.op,
                               data, change.data_hash, change.prev, change.hash,
                               change.redacted))
        proven_hashes[change.seq] = change.hash
        seq, link = change.seq, change.hash
    return proven, seq, link


def _check_checkpoint(
    feed: Feed, *, node: str, origin: str, keys: Iterable[dict[str, Any]], seq: int,
    link: str, after_seq: int,
) -> None:
    # 6. The serving node signed where the chain stands, and the page ends exactly there.
    cp = feed.checkpoint
    checkpoint.verify(cp, node, keys)
    if (cp.origin or cp.node) != origin:
        raise SyncFault(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    if cp.seq == seq:
        if cp.hash != link:
            raise SyncFault("checkpoint hash differs from the chain: the log was rewritten",
                            cp.seq)
    elif cp.seq < seq or cp.seq < after_seq:
        raise SyncFault(f"checkpoint at seq {cp.seq} is behind the chain at {seq}", cp.seq)
    elif seq > after_seq:
        raise SyncFault(f"checkpoint at seq {cp.seq} does not cover the page ending at {seq}",
                        cp.seq)
