"""The carrier mirror's watch over its node's Merkle tree (API.md §15).

After each sync the mirror reads the node's tree checkpoint and trusts it only when it
extends the last one it trusted (a consistency proof: a node that forks its log is a
fault), the chain the mirror holds is in it (an inclusion proof of its newest entry), and,
when configured, k named witness nodes have cosigned a consistent head. The trusted head
is kept in PATH.tree beside the snapshot, so a restart keeps watching from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry_client import merkle, note
from sync import tlog
from sync.client import FeedClient, read_capped
from sync.errors import PullFailed, SyncFault
from sync.witness import log_verifier

log = structlog.get_logger("sync.mirror_tree")
MAX_NOTE_BYTES = note.MAX_NOTE_BYTES


@dataclass(frozen=True)
class Witness:
    """A node whose cosignatures the mirror counts: its id, its node key and its URL."""

    name: str
    public: Ed25519PublicKey
    url: str


@dataclass
class TreeWatch:
    path: Path | None = None
    witnesses: list[Witness] = field(default_factory=list)
    required: int = 0
    head: note.TreeHead | None = None

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            text, _ = note.parse(self.path.read_text("utf-8"))
            self.head = note.tree_head(text)
        except (OSError, UnicodeDecodeError, note.NoteError) as bad:
            # Only what this mirror verified is written there; a damaged file restarts
            # the watch from the node's next checkpoint, with a warning.
            log.warning("mirror_tree_head_unreadable", path=str(self.path), reason=str(bad))

    def _keep(self, signed: str) -> None:
        if self.path is None:
            return
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(signed, "utf-8")
        os.replace(partial, self.path)

    async def check(self, client: FeedClient, node: str, keys: list[dict[str, Any]],
                    newest: tuple[int, str] | None, http: httpx.AsyncClient) -> note.TreeHead:
        """Verify the node's current checkpoint; on success it becomes the trusted head."""
        signed = await client.tree_checkpoint()
        verifier = log_verifier(node, signed, keys)
        size = tlog.claimed_size(signed)
        before = self.head
        proof: list[bytes] = []
        if before is not None and before.size != size:
            proof = await client.consistency(min(before.size, size), max(before.size, size))
        head, _ = tlog.next_head(before, signed, verifier, proof)
        if newest is not None and 0 < newest[0] <= head.size:
            await _holds(client, head, newest)
        if self.required:
            agreed, unusable = await self._cosigned(client, head, verifier, http)
            if agreed < self.required:
                why = "".join(f"; {name}: {reason}" for name, reason in unusable)
                raise PullFailed(f"the checkpoint of size {head.size} has {agreed} of the"
                                 f" {self.required} witness cosignatures required{why}")
        if before is None or head.size >= before.size:
            self.head = head
            self._keep(signed)
        return head

    async def _cosigned(self, client: FeedClient, head: note.TreeHead, log_key: note.Verifier,
                        http: httpx.AsyncClient) -> tuple[int, list[tuple[str, str]]]:
        """How many witnesses cosigned a head of this log consistent with `head`, and why
        each of the others could not be counted."""
        agreed = 0
        unusable: list[tuple[str, str]] = []
        for witness in self.witnesses:
            try:
                # A witness is a peer like any other: its answer is read within the same
                # byte cap and deadline as the node's, or it could hold the mirror forever.
                raw = await read_capped(
                    http, f"{witness.url.rstrip('/')}/tlog/cosigned/{head.origin}",
                    headers={}, max_bytes=MAX_NOTE_BYTES, limits=client.limits)
                seen, signatures = note.open_checkpoint(raw.decode(), log_key)
                note.verify_cosignature(seen.text(), signatures,
                                        note.witness_verifier(witness.name, witness.public))
                if seen.size != head.size:
                    old, new = sorted((seen, head), key=lambda h: h.size)
                    merkle.verify_consistency(old.size, new.size,
                                              await client.consistency(old.size, new.size),
                                              old.root, new.root)
                elif seen.root != head.root:
                    raise SyncFault(f"fork: witness {witness.name} saw another tree of size"
                                    f" {head.size}")
            except (note.NoteError, PullFailed, UnicodeDecodeError) as exc:
                log.warning("mirror_witness_unusable", witness=witness.name, reason=str(exc))
                unusable.append((witness.name, str(exc)[:200]))
                continue
            except merkle.ProofError as exc:
                raise SyncFault(f"fork: witness {witness.name} saw a tree not consistent with"
                                f" the node's: {exc}") from exc
            agreed += 1
        return agreed, unusable


async def _holds(client: FeedClient, head: note.TreeHead, newest: tuple[int, str]) -> None:
    """The newest entry the mirror holds of the node's own chain is in the signed tree."""
    seq, chain_hash = newest
    proof = await client.inclusion(seq, head.size)
    try:
        merkle.verify_inclusion(bytes.fromhex(chain_hash), seq - 1, head.size, proof, head.root)
    except merkle.ProofError as exc:
        raise SyncFault(f"split view: the chain the node sent is not in the tree it signs:"
                        f" {exc}") from exc
