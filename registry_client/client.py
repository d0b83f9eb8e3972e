"""`Client` and `AsyncClient`: signed calls to one node as one principal.

    with Client("https://registry.example", principal_id=ID, key=load_private_key(PEM),
                kid="k1") as registry:
        answer = registry.send(calls.trace("+8613800138000"))
        results = registry.trace_all(numbers)       # any length, 1000 a request

Both send the same `Call`s (calls.py); every attempt is freshly signed (a new `jti`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import httpx

from registry_client import calls, models
from registry_client.calls import Call
from registry_client.signing import PrivateKey, Signer, public_jwk
from registry_client.transport import (
    RetryPolicy,
    answer_of,
    batches,
    build_request,
    node_base,
)

T = TypeVar("T")


class _Principal:
    """The identity and settings both clients share; the audience is learnt once."""

    def __init__(self, url: str, *, principal_id: str, key: PrivateKey, kid: str | None,
                 audience: str | None, retry: RetryPolicy | None) -> None:
        self.base = node_base(url)
        self.principal_id, self.key = principal_id, key
        self.kid = kid or str(public_jwk(key)["kid"])
        self.retry = retry or RetryPolicy()
        self.signer = None if audience is None else self._signer(audience)

    def _signer(self, audience: str) -> Signer:
        return Signer(self.principal_id, self.kid, self.key, audience)


class Client(_Principal):
    """Synchronous client (httpx.Client underneath)."""

    def __init__(self, url: str, *, principal_id: str, key: PrivateKey, kid: str | None = None,
                 audience: str | None = None, retry: RetryPolicy | None = None,
                 timeout: float = 30, http: httpx.Client | None = None) -> None:
        super().__init__(url, principal_id=principal_id, key=key, kid=kid, audience=audience,
                         retry=retry)
        self.http = http or httpx.Client(timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.http.close()

    def send(self, call: Call[T]) -> T:
        """The typed answer of `call`; ProblemError for a 4xx/5xx problem."""
        if self.signer is None and not call.public:
            self.signer = self._signer(self.send(calls.node_info()).node_id)
        attempt = 0
        while True:
            response = self.http.send(build_request(self.base, self.signer, call))
            wait = self.retry.delay(response, attempt)
            if wait is None:
                return answer_of(call, response)
            time.sleep(wait)
            attempt += 1

    def trace_all(self, values: Sequence[str], at: datetime | str | None = None
                  ) -> list[models.TraceResult]:
        """Trace any number of values, 1000 a request, answers in the same order."""
        return [r for chunk in batches(values)
                for r in self.send(calls.trace_batch(chunk, at)).results]

    def supply_all(self, items: Sequence[models.ResourceSupply]) -> list[str]:
        """Supply in batches of 1000; each batch is all or nothing, the whole is not."""
        return [i for chunk in batches(items) for i in self.send(calls.supply_batch(chunk)).ids]

    def confirm_all(self, ids: Sequence[str]) -> list[str]:
        return [i for chunk in batches(ids) for i in self.send(calls.confirm_batch(chunk)).ids]


class AsyncClient(_Principal):
    """Asynchronous client (httpx.AsyncClient underneath); the same calls, awaited."""

    def __init__(self, url: str, *, principal_id: str, key: PrivateKey, kid: str | None = None,
                 audience: str | None = None, retry: RetryPolicy | None = None,
                 timeout: float = 30, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(url, principal_id=principal_id, key=key, kid=kid, audience=audience,
                         retry=retry)
        self.http = http or httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.http.aclose()

    async def send(self, call: Call[T]) -> T:
        if self.signer is None and not call.public:
            self.signer = self._signer((await self.send(calls.node_info())).node_id)
        attempt = 0
        while True:
            response = await self.http.send(build_request(self.base, self.signer, call))
            wait = self.retry.delay(response, attempt)
            if wait is None:
                return answer_of(call, response)
            await asyncio.sleep(wait)
            attempt += 1

    async def trace_all(self, values: Sequence[str], at: datetime | str | None = None
                        ) -> list[models.TraceResult]:
        found: list[models.TraceResult] = []
        for chunk in batches(values):
            found += (await self.send(calls.trace_batch(chunk, at))).results
        return found

    async def supply_all(self, items: Sequence[models.ResourceSupply]) -> list[str]:
        found: list[str] = []
        for chunk in batches(items):
            found += (await self.send(calls.supply_batch(chunk))).ids
        return found

    async def confirm_all(self, ids: Sequence[str]) -> list[str]:
        found: list[str] = []
        for chunk in batches(ids):
            found += (await self.send(calls.confirm_batch(chunk))).ids
        return found


__all__ = ["AsyncClient", "Client"]
