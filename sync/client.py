"""Signed requests to another node's feed, made the way API.md §2 asks of any caller.

A node signs with its node key (`iss` = its node id); a carrier mirror with its member key.
Every answer is read within a byte cap and a deadline for the whole of it (httpx's own
timeouts are per read, so a peer sending a byte now and then would hold a pull forever).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import TypeVar

import httpx
import msgspec

from registry_client.models import NodeInfo
from registry_client.paths import QueryValue, target
from registry_client.signing import PrivateKey, Signer
from sync.errors import PullFailed
from sync.wire import Feed, Heads, feed_decoder, heads_decoder

Key = PrivateKey
T = TypeVar("T")
# One change of the largest record a write can make (request bodies are capped at 2 MiB)
# always fits in a page, whatever its limit.
PAGE_FLOOR_BYTES = 4 * 1024 * 1024
SMALL_ANSWER_BYTES = 1024 * 1024  # heads, node info


@dataclass(frozen=True)
class AnswerLimits:
    """How much of a peer's answer is read, and for how long, before the pull gives up."""

    deadline: float = 30.0  # seconds for one whole answer, from connecting to its last byte
    # A change travels as ~600 bytes (hashes, names, a record's data): a page may take
    # this much per change asked for, over the floor (10,000 changes: 4 + 20 MiB).
    bytes_per_change: int = 2048
    floor_bytes: int = PAGE_FLOOR_BYTES

    def page_bytes(self, changes: int) -> int:
        return self.floor_bytes + changes * self.bytes_per_change


class AnswerTooLarge(PullFailed):
    """The answer grew past its cap: a smaller page may fit (the puller halves its limit)."""


class AnswerTooSlow(PullFailed):
    """The whole answer did not arrive within the deadline."""


async def read_capped(
    http: httpx.AsyncClient, url: str, *, headers: dict[str, str], max_bytes: int,
    limits: AnswerLimits,
) -> bytes:
    """GET `url` and return its 200 body, read as it streams in and given up past
    `max_bytes` or `limits.deadline` seconds; anything else is PullFailed."""
    try:
        async with asyncio.timeout(limits.deadline):
            return await _read(http, url, headers, max_bytes, limits.deadline)
    except TimeoutError as exc:
        raise AnswerTooSlow(f"{url}: no whole answer within {limits.deadline:g} s") from exc
    except httpx.HTTPError as exc:
        raise PullFailed(f"{url}: {type(exc).__name__}: {exc}") from exc


async def _read(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int,
    deadline: float,
) -> bytes:
    # identity: a compressed answer could inflate past any cap in one chunk.
    sent = {**headers, "Accept-Encoding": "identity"}
    async with http.stream("GET", url, headers=sent, timeout=deadline) as answer:
        if answer.status_code != 200:
            start = await _prefix(answer, 300)
            raise PullFailed(f"{url}: HTTP {answer.status_code} "
                             f"{start.decode('utf-8', 'replace')}")
        if answer.headers.get("content-encoding", "identity") != "identity":
            raise PullFailed(f"{url}: answered with content-encoding "
                             f"{answer.headers['content-encoding'][:40]!r}")
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise AnswerTooLarge(f"{url}: answer of {declared} bytes is larger than "
                                 f"the {max_bytes} allowed")
        body = bytearray()
        async for chunk in answer.aiter_raw():
            body += chunk
            if len(body) > max_bytes:
                raise AnswerTooLarge(f"{url}: answer larger than the {max_bytes} bytes "
                                     "allowed")
        return bytes(body)


async def _prefix(answer: httpx.Response, size: int) -> bytes:
    start = bytearray()
    async for chunk in answer.aiter_raw():
        start += chunk
        if len(start) >= size:
            break
    return bytes(start[:size])


def decoded(decoder: msgspec.json.Decoder[T], raw: bytes, what: str) -> T:
    """`raw` decoded, or PullFailed: garbage, the wrong shape, bad UTF-8, deep nesting."""
    try:
        return decoder.decode(raw)
    except RecursionError as exc:
        raise PullFailed(f"{what}: JSON nested too deep") from exc
    except (msgspec.DecodeError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise PullFailed(f"{what}: {exc}") from exc


_node_info = msgspec.json.Decoder(NodeInfo)


async def fetch_node_info(
    url: str, http: httpx.AsyncClient | None = None, limits: AnswerLimits | None = None,
) -> NodeInfo:
    """What a node publishes about itself at /.well-known/registry-node (no token)."""
    own = http is None
    client = http or httpx.AsyncClient()
    where = url.rstrip("/") + "/.well-known/registry-node"
    try:
        raw = await read_capped(client, where, headers={}, max_bytes=SMALL_ANSWER_BYTES,
                                limits=limits or AnswerLimits())
        return decoded(_node_info, raw, f"cannot read {where}")
    finally:
        if own:
            await client.aclose()


class ProofAnswer(msgspec.Struct):
    proof: list[str]


class FeedClient:
    """Reads one node's feed as one principal; every request freshly signed."""

    def __init__(
        self, url: str, *, audience: str, issuer: str, key: Key, kid: str,
        http: httpx.AsyncClient, limits: AnswerLimits | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.signer = Signer(issuer, kid, key, audience)
        self.http = http
        self.limits = limits or AnswerLimits()

    async def _get(self, path: str, query: dict[str, QueryValue],
                   max_bytes: int = SMALL_ANSWER_BYTES) -> bytes:
        sent = target(path, query)
        return await read_capped(
            self.http, self.url + sent, max_bytes=max_bytes, limits=self.limits,
            headers={"Authorization": self.signer.authorization("GET", sent)})

    async def changes(self, after: int, limit: int, origin: str | None = None) -> Feed:
        query: dict[str, QueryValue] = {"after": after, "limit": limit}
        if origin is not None:
            query["origin"] = origin
        raw = await self._get("/v1/sync/changes", query, self.limits.page_bytes(limit))
        return decoded(feed_decoder, raw, f"{self.url}: the feed is not a feed")

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
        raw = await self._get("/v1/sync/heads", {}, SMALL_ANSWER_BYTES)
        return decoded(heads_decoder, raw, f"{self.url}: heads are malformed")
