"""The verifiable log over HTTP: checkpoint note, tiles and proofs of a real change log."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from registry import changelog
from registry_client import merkle, note
from sync.tlog_store import TILE_WIDTH
from tests.support.client import SignedClient
from tests.test_merkle import Reference

ENTRIES = 700  # two full level-0 tiles and a partial one


@pytest.fixture(scope="module")
async def log_size(db: asyncpg.Connection, operator: SignedClient) -> int:
    async with db.transaction():
        await changelog.append(db, [changelog.Change("tlog_test", f"r{i}", "upsert", {"i": i})
                                    for i in range(ENTRIES)])
    return int(await db.fetchval("SELECT max(seq) FROM change_log"))


async def _leaves(db: asyncpg.Connection, size: int) -> list[bytes]:
    rows = await db.fetch("SELECT hash FROM change_log WHERE seq <= $1 ORDER BY seq", size)
    return [bytes.fromhex(r["hash"]) for r in rows]


async def _verifier(client: AsyncTestClient[Any]) -> note.Verifier:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    node = (await client.get("/.well-known/registry-node")).json()
    raw = base64.urlsafe_b64decode(node["keys"][0]["x"] + "==")
    return note.node_verifier(node["node_id"], Ed25519PublicKey.from_public_bytes(raw))


async def test_the_checkpoint_is_a_signed_note_of_the_whole_log(
    client: AsyncTestClient[Any], db: asyncpg.Connection, log_size: int,
) -> None:
    answer = await client.get("/tlog/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    head, _ = note.open_checkpoint(answer.text, await _verifier(client))
    assert head.size == log_size
    assert head.root == Reference(await _leaves(db, log_size)).mth(0, log_size)


async def test_tiles_rebuild_the_tree(
    client: AsyncTestClient[Any], db: asyncpg.Connection, log_size: int,
) -> None:
    leaves = await _leaves(db, log_size)
    ref = Reference(leaves)
    full = await client.get("/tlog/tile/0/000")
    assert full.status_code == 200
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.content == b"".join(merkle.leaf_hash(x) for x in leaves[:TILE_WIDTH])
    width = log_size % TILE_WIDTH
    partial = await client.get(f"/tlog/tile/0/002.p/{width}")
    assert partial.content == b"".join(merkle.leaf_hash(x) for x in leaves[512:512 + width])
    level1 = await client.get("/tlog/tile/1/000.p/2")
    assert level1.content == ref.mth(0, 256) + ref.mth(256, 512)
    bundle = await client.get("/tlog/tile/entries/001")
    assert bundle.content == b"".join(b"\x00\x20" + x for x in leaves[256:512])
    for missing in ("/tlog/tile/0/003", "/tlog/tile/0/002", f"/tlog/tile/0/002.p/{width + 1}",
                    "/tlog/tile/1/000", "/tlog/tile/0/x000/001", "/tlog/tile/0/1",
                    "/tlog/tile/0/000.p/256", "/tlog/tile/0/000.p/0", "/tlog/tile/9/000",
                    "/tlog/tile/01/000", "/tlog/tile/entries/000.p/x"):
        answer = await client.get(missing)
        assert answer.status_code == 404, missing
        assert answer.json()["code"] == "not_found"


async def test_proofs_verify_against_the_checkpoint(
    client: AsyncTestClient[Any], operator: SignedClient, db: asyncpg.Connection,
    log_size: int,
) -> None:
    leaves = await _leaves(db, log_size)
    ref = Reference(leaves)
    for seq, size in [(1, 1), (1, log_size), (300, 301), (log_size, log_size), (257, 600)]:
        answer = await operator.get(f"/v1/sync/proof/inclusion?seq={seq}&size={size}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        proof = [base64.b64decode(h) for h in body["proof"]]
        assert base64.b64decode(body["root"]) == ref.mth(0, size)
        merkle.verify_inclusion(leaves[seq - 1], seq - 1, size, proof, ref.mth(0, size))
    for old, new in [(0, 5), (1, 2), (100, log_size), (256, 512), (log_size, log_size)]:
        answer = await operator.get(f"/v1/sync/proof/consistency?from={old}&to={new}")
        assert answer.status_code == 200, answer.text
        proof = [base64.b64decode(h) for h in answer.json()["proof"]]
        merkle.verify_consistency(old, new, proof, ref.mth(0, old), ref.mth(0, new))


@pytest.mark.parametrize(("target", "status"), [
    ("/v1/sync/proof/inclusion?seq=5&size=4", 422),
    ("/v1/sync/proof/inclusion?seq=0&size=4", 422),
    ("/v1/sync/proof/inclusion?seq=1&size=999999", 422),
    ("/v1/sync/proof/inclusion?seq=x&size=4", 422),
    ("/v1/sync/proof/consistency?from=5&to=4", 422),
    ("/v1/sync/proof/consistency?from=1&to=999999", 422),
    ("/v1/sync/proof/consistency?from=-1&to=4", 422),
])
async def test_bad_proof_requests_are_4xx(
    operator: SignedClient, log_size: int, target: str, status: int,
) -> None:
    answer = await operator.get(target)
    assert answer.status_code == status, answer.text


async def test_proofs_need_a_signed_request(client: AsyncTestClient[Any], log_size: int) -> None:
    answer = await client.get("/v1/sync/proof/inclusion?seq=1&size=1")
    assert answer.status_code == 401
