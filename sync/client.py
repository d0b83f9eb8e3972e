"""Signed requests to another node's feed, made the way API.md §2 asks of any caller.

A node signs with its node key (`iss` = its node id); a carrier mirror with its member key.
"""

from __future__ import annotations

import base64

import httpx
import msgspec

from registry_client.models import NodeInfo
from registry_client.paths import QueryValue, target
from registry_client.signing import PrivateKey, Signer
from sync.errors import PullFailed
from sync.wire import Feed, Heads, feed_decoder, heads_decoder

Key = PrivateKey


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
        self.signer = Signer(issuer, kid, key, audience)
        self.http = http
        self.timeout = timeout

    async def _get(self, path: str, query: dict[str, QueryValue]) -> bytes:
        sent = target(path, query)
        try:
            answer = await self.http.get(
                self.url + sent, timeout=self.timeout,
                headers={"Authorization": self.signer.authorization("GET", sent)})
        except httpx.HTTPError as exc:
            raise PullFailed(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if answer.status_code != 200:
            raise PullFailed(f"{self.url}{path}: HTTP {answer.status_code} {answer.text[:300]}")
        return answer.content

    async def changes(self, after: int, limit: int, origin: str | None = None) -> Feed:
        query: dict[str, QueryValue] = {"after": after, "limit": limit}
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

    async def _proof(self, path: str, query: dict[str, QueryValue]) -> list[bytes]:
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
