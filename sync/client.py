"""Signed requests to another node's feed, made the way API.md §2 asks of any caller.

A node signs with its node key (`iss` = its node id); a carrier mirror with its member key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.errors import PullFailed
from sync.wire import Feed, Heads, feed_decoder, heads_decoder

TOKEN_LIFETIME = 60
Key = Ed25519PrivateKey | EllipticCurvePrivateKey


def request_token(
    *, key: Key, kid: str, issuer: str, audience: str, method: str, target: str,
    body: bytes = b"",
) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer, "aud": audience, "iat": now, "exp": now + TOKEN_LIFETIME,
        "jti": secrets.token_urlsafe(24), "htm": method, "htu": target,
        "bh": base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("="),
    }
    alg = "EdDSA" if isinstance(key, Ed25519PrivateKey) else "ES256"
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


class NodeInfo(msgspec.Struct):
    node_id: str
    keys: list[dict[str, Any]]
    api: str = "v1"


async def fetch_node_info(url: str, http: httpx.AsyncClient | None = None) -> NodeInfo:
    """What a node publishes about itself at /.well-known/registry-node (no token)."""
    own = http is None
    client = http or httpx.AsyncClient(timeout=10)
    try:
        answer = await client.get(url.rstrip("/") + "/.well-known/registry-node")
        answer.raise_for_status()
        return msgspec.json.decode(answer.content, type=NodeInfo)
    except (httpx.HTTPError, msgspec.DecodeError) as exc:
        raise PullFailed(f"cannot read {url}/.well-known/registry-node: {exc}") from exc
    finally:
        if own:
            await client.aclose()


class ProofAnswer(msgspec.Struct):
    proof: list[str]


class FeedClient:
    """Reads one node's feed as one principal; every request freshly signed."""

    def __init__(
        self, url: str, *, audience: str, issuer: str, key: Key, kid: str,
        http: httpx.AsyncClient, timeout: float = 30,
    ) -> None:
        self.url = url.rstrip("/")
        self.audience, self.issuer, self.key, self.kid = audience, issuer, key, kid
        self.http = http
        self.timeout = timeout

    async def _get(self, path: str, query: dict[str, Any]) -> bytes:
        target = f"{path}?{urlencode(query)}" if query else path
        token = request_token(key=self.key, kid=self.kid, issuer=self.issuer,
                              audience=self.audience, method="GET", target=target)
        try:
            answer = await self.http.get(self.url + target, timeout=self.timeout,
                                         headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise PullFailed(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if answer.status_code != 200:
            raise PullFailed(f"{self.url}{path}: HTTP {answer.status_code} {answer.text[:300]}")
        return answer.content

    async def changes(self, after: int, limit: int, origin: str | None = None) -> Feed:
        query: dict[str, Any] = {"after": after, "limit": limit}
        if origin is not None:
            query["origin"] = origin
        raw = await self._get("/v1/sync/changes", query)
        try:
            return feed_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise PullFailed(f"{self.url}: the feed is not a feed: {exc}") from exc

    async def tree_checkpoint(self) -> str:
        """The node's signed tree checkpoint (API.md §15), as text; not yet verified."""
        try:
            return (await self._get("/tlog/checkpoint", {})).decode()
        except UnicodeDecodeError as exc:
            raise PullFailed(f"{self.url}: the tree checkpoint is not UTF-8") from exc

    async def inclusion(self, seq: int, size: int) -> list[bytes]:
        return await self._proof("/v1/sync/proof/inclusion", {"seq": seq, "size": size})

    async def consistency(self, old: int, new: int) -> list[bytes]:
        return await self._proof("/v1/sync/proof/consistency", {"from": old, "to": new})

    async def _proof(self, path: str, query: dict[str, Any]) -> list[bytes]:
        raw = await self._get(path, query)
        try:
            answer = msgspec.json.decode(raw, type=ProofAnswer)
            return [base64.b64decode(h, validate=True) for h in answer.proof]
        except (msgspec.DecodeError, ValueError) as exc:
            raise PullFailed(f"{self.url}{path}: the proof is malformed: {exc}") from exc

    async def heads(self) -> Heads:
        raw = await self._get("/v1/sync/heads", {})
        try:
            return heads_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise PullFailed(f"{self.url}: heads are malformed: {exc}") from exc
