"""The Merkle tree code against an independent RFC 9162 implementation written here from
the RFC's recursive definitions, for every tree size 1..300 and random larger ones."""

from __future__ import annotations

import hashlib
import random
from functools import cache

import pytest

from registry_client import merkle
from registry_client.merkle import ProofError

# RFC 9162 §2.1 by its definitions, over leaf data (bytes of any length).


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Reference:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves

        @cache
        def mth(lo: int, hi: int) -> bytes:
            if hi - lo == 0:
                return _h(b"")
            if hi - lo == 1:
                return _h(b"\x00" + self.leaves[lo])
            k = _k(hi - lo)
            return _h(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi))

        self.mth = mth

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self.mth(lo, hi)]
        k = _k(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, whole), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def reader(self) -> merkle.SubtreeReader:
        async def read(level: int, index: int) -> bytes:
            return self.mth(index << level, (index + 1) << level)
        return read


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    rnd = random.Random(seed)  # noqa: S311 (reproducible test data)
    return [rnd.randbytes(32) for _ in range(n)]


# Roots of the 8-leaf tree used by RFC 6962's reference implementations' tests.
VECTOR_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
                 bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


async def test_roots_match_the_published_vectors() -> None:
    ref = Reference(VECTOR_LEAVES)
    for size, expected in enumerate(VECTOR_ROOTS, start=1):
        assert (await merkle.root(ref.reader(), size)).hex() == expected
    assert await merkle.root(ref.reader(), 0) == merkle.EMPTY_ROOT


async def test_every_inclusion_proof_up_to_300_leaves() -> None:
    ref = Reference(_leaves(300))
    read = ref.reader()
    for size in range(1, 301):
        root = ref.mth(0, size)
        for index in range(size):
            proof = await merkle.inclusion_proof(read, index, size)
            assert proof == ref.path(index, 0, size)
            merkle.verify_inclusion(ref.leaves[index], index, size, proof, root)


async def test_every_consistency_proof_up_to_300_leaves() -> None:
    ref = Reference(_leaves(300, seed=1))
    read = ref.reader()
    for new in range(1, 301):
        new_root = ref.mth(0, new)
        for old in range(0, new + 1):
            proof = await merkle.consistency_proof(read, old, new)
            expected = [] if old in (0, new) else ref.subproof(old, 0, new, True)
            assert proof == expected
            merkle.verify_consistency(old, new, proof, ref.mth(0, old), new_root)


@pytest.mark.parametrize("seed", range(5))
async def test_random_larger_trees(seed: int) -> None:
    rnd = random.Random(seed)  # noqa: S311 (reproducible test data)
    size = rnd.randrange(1_000, 70_000)
    ref = Reference(_leaves(size, seed=seed))
    read = ref.reader()
    root = ref.mth(0, size)
    for _ in range(20):
        index = rnd.randrange(size)
        proof = await merkle.inclusion_proof(read, index, size)
        assert proof == ref.path(index, 0, size)
        merkle.verify_inclusion(ref.leaves[index], index, size, proof, root)
        old = rnd.randrange(1, size)
        cproof = await merkle.consistency_proof(read, old, size)
        assert cproof == ref.subproof(old, 0, size, True)
        merkle.verify_consistency(old, size, cproof, ref.mth(0, old), root)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


async def test_every_tampered_inclusion_proof_is_refused() -> None:
    ref = Reference(_leaves(37, seed=2))
    read = ref.reader()
    for size in (1, 2, 5, 8, 13, 37):
        root = ref.mth(0, size)
        for index in range(size):
            leaf = ref.leaves[index]
            proof = await merkle.inclusion_proof(read, index, size)
            cases = [
                (leaf, index, size, [*proof, root], root),  # too long
                (_flip(leaf), index, size, proof, root),  # another leaf
                (leaf, index, size, proof, _flip(root)),  # another root
                (leaf, size, size, proof, root),  # outside the tree
                (leaf, -1, size, proof, root),
                (leaf, index, size, [b"short", *proof[1:]], root),  # not a hash
            ]
            if proof:
                cases.append((leaf, index, size, proof[:-1], root))  # too short
                cases.append((leaf, index, size, [_flip(proof[0]), *proof[1:]], root))
            if size > 1:
                cases.append((leaf, (index + 1) % size, size, proof, root))  # wrong place
            for case in cases:
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(*case)


async def test_every_tampered_consistency_proof_is_refused() -> None:
    ref = Reference(_leaves(40, seed=3))
    read = ref.reader()
    for new in (2, 3, 7, 8, 9, 16, 40):
        new_root = ref.mth(0, new)
        for old in range(1, new):
            old_root = ref.mth(0, old)
            proof = await merkle.consistency_proof(read, old, new)
            cases = [
                (old, new, proof, _flip(old_root), new_root),  # a fork before old
                (old, new, proof, old_root, _flip(new_root)),  # a fork after old
                (old, new, [], old_root, new_root),  # empty
                (old, new, [*proof, new_root], old_root, new_root),  # too long
                (old, new, proof[:-1], old_root, new_root),  # too short
                (old, new, [_flip(proof[0]), *proof[1:]], old_root, new_root),
                (new, old, proof, new_root, old_root),  # shrinking
                (old, new, [b"x" * 31, *proof[1:]], old_root, new_root),
            ]
            for case in cases:
                with pytest.raises(ProofError):
                    merkle.verify_consistency(*case)
    # Trees of one size agree or fork; the empty tree extends to anything with no proof.
    merkle.verify_consistency(5, 5, [], ref.mth(0, 5), ref.mth(0, 5))
    merkle.verify_consistency(0, 5, [], merkle.EMPTY_ROOT, ref.mth(0, 5))
    for case in [(5, 5, [], ref.mth(0, 5), ref.mth(0, 4)),
                 (5, 5, [ref.mth(0, 1)], ref.mth(0, 5), ref.mth(0, 5)),
                 (0, 5, [ref.mth(0, 1)], merkle.EMPTY_ROOT, ref.mth(0, 5)),
                 (-1, 5, [], merkle.EMPTY_ROOT, ref.mth(0, 5))]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*case)


async def test_proofs_outside_the_tree_are_not_made() -> None:
    read = Reference(_leaves(4)).reader()
    with pytest.raises(ValueError, match="not in a tree"):
        await merkle.inclusion_proof(read, 4, 4)
    with pytest.raises(ValueError, match="no consistency proof"):
        await merkle.consistency_proof(read, 5, 4)
