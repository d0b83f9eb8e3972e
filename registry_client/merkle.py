"""The Merkle tree over a node's change log, as RFC 9162 §2.1 defines it (API.md §15).

The leaf at index N - 1 is the change-log entry with seq N; its leaf data is the entry's
chain hash as 32 bytes. Proofs are made from complete subtree hashes ("stored hashes"),
read through `SubtreeReader`, so the same code serves a database-backed tree and an
in-memory one. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and
raises `ProofError`; it never returns False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (level, index) -> MTH of the complete subtree of 2**level leaves starting at index << level.
SubtreeReader = Callable[[int, int], Awaitable[bytes]]


class ProofError(Exception):
    """A proof does not prove what it claims."""


def leaf_hash(entry_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits D[0:n]."""
    return 1 << ((n - 1).bit_length() - 1)


async def subtree_hash(read: SubtreeReader, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a range that starts on a boundary of its left part."""
    n = hi - lo
    if n & (n - 1) == 0:  # a complete subtree: stored
        level = n.bit_length() - 1
        return await read(level, lo >> level)
    k = _split(n)
    return node_hash(await subtree_hash(read, lo, lo + k), await subtree_hash(read, lo + k, hi))


async def root(read: SubtreeReader, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else await subtree_hash(read, 0, size)


async def inclusion_proof(read: SubtreeReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]), RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            proof.append(await subtree_hash(read, lo + k, hi))
            hi = lo + k
        else:
            proof.append(await subtree_hash(read, lo, lo + k))
            lo, m = lo + k, m - k
    proof.reverse()
    return proof


async def consistency_proof(read: SubtreeReader, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[0:new]), RFC 9162 §2.1.4.1; empty when old is 0 or equals new."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(await subtree_hash(read, lo + k, hi))
            hi = lo + k
        else:
            proof.append(await subtree_hash(read, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(await subtree_hash(read, lo, hi))
    proof.reverse()
    return proof


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in proof):
        raise ProofError("a proof hash is not 32 bytes")


def verify_inclusion(
    entry_hash: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes,
) -> None:
    """RFC 9162 §2.1.3.2: raise ProofError unless the proof puts the leaf under the root."""
    # 1. The index must be inside the tree.
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    _check_hashes(proof)
    # 2-3. fn, sn and r start at the leaf.
    fn, sn, r = index, size - 1, leaf_hash(entry_hash)
    # 4. Fold each proof hash in from the side the index bits say.
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    # 5. Every level was consumed and the result is the root.
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != expected_root:
        raise ProofError("the inclusion proof does not lead to the checkpoint's root")


def verify_consistency(
    old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes,
) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless tree `new` extends tree `old`."""
    if not 0 <= old <= new:
        raise ProofError(f"size {new} cannot extend size {old}")
    _check_hashes(proof)
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("two checkpoints of one size disagree on the root (a fork)")
        return
    if old == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    # 1. Between two different non-empty trees the proof is never empty.
    if not proof:
        raise ProofError("the consistency proof is empty")
    # 2. When old is a power of two, its root is the first node of the path.
    path = [old_root, *proof] if old & (old - 1) == 0 else list(proof)
    # 3-4. fn and sn start at the last leaf of old; shift out the shared right edge.
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # 5. fr and sr start at the first path hash.
    fr = sr = path[0]
    # 6. Fold the rest in.
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # 7. Both roots must come out, and every level must be used.
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root (a fork)")
