"""A test client that signs every request the way a member's client does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from litestar.testing import AsyncTestClient

from tests.support.signing import Signer


@dataclass
class SignedClient:
    client: AsyncTestClient[Any]
    signer: Signer

    @property
    def id(self) -> str:
        return self.signer.principal_id

    async def request(self, method: str, target: str, json: Any = None,
                      raw: bytes | None = None, **claims: Any) -> httpx.Response:
        body = raw if raw is not None else (b"" if json is None else msgspec.json.encode(json))
        headers = self.signer.headers(method, target, body, **claims)
        return await self.client.request(method, target, content=body, headers=headers)

    async def get(self, target: str, **claims: Any) -> httpx.Response:
        return await self.request("GET", target, **claims)

    async def post(self, target: str, json: Any = None, **claims: Any) -> httpx.Response:
        return await self.request("POST", target, json=json, **claims)

    async def patch(self, target: str, json: Any = None, **claims: Any) -> httpx.Response:
        return await self.request("PATCH", target, json=json, **claims)

    async def delete(self, target: str, **claims: Any) -> httpx.Response:
        return await self.request("DELETE", target, **claims)
