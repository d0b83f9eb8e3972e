"""Spends the nonces of concurrent requests together: one statement per burst, not per request.

While one batch is with PostgreSQL, the tokens that arrive wait and go in the next one
(group commit), so under load a round trip and a transaction serve many requests, and
alone a request waits for nothing but its own. Every jti is still spent in PostgreSQL
before its request goes on, with the key's revocation and the member's status read in the
same statement (registry.principals.spend_nonces).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from registry.db import Connection
from registry.principals import NonceSpend, Standing, spend_nonces

ConnectionFactory = Callable[[], AbstractAsyncContextManager[Connection]]
MAX_BATCH = 500
# A spend, its request's answer, and whether its batch is done (even if the request left).
Waiting = tuple[NonceSpend, "asyncio.Future[Standing | None]", "asyncio.Future[None]"]


class NonceSpender:
    def __init__(self, connect: ConnectionFactory) -> None:
        self._connect = connect
        # By (principal, jti), in arrival order: the spends not yet answered.
        self._waiting: dict[tuple[str, str], Waiting] = {}
        self._drainer: asyncio.Task[None] | None = None

    async def spend(self, principal_id: str, kid: str, jti: str,
                    expires_at: int) -> Standing | None:
        # A jti already waiting goes after it (never in the same statement), and so is
        # refused as a replay, as it would be if the two had come one after the other.
        while (earlier := self._waiting.get((principal_id, jti))) is not None:
            await asyncio.shield(earlier[2])
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Standing | None] = loop.create_future()
        self._waiting[(principal_id, jti)] = (
            (principal_id, kid, jti, expires_at), future, loop.create_future())
        if self._drainer is None:
            # It starts on the loop's next turn, with every spend that arrived on this one.
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = list(self._waiting.values())[:MAX_BATCH]
                try:
                    async with self._connect() as conn:
                        while batch:
                            answers = await spend_nonces(conn, [waiting[0] for waiting in batch])
                            self._answer(batch, answers)
                            # What arrived meanwhile goes on the same connection: under load
                            # a pool checkout per batch cost as much as the batch's statement.
                            batch = list(self._waiting.values())[:MAX_BATCH]
                except Exception as exc:  # each request fails as it would have alone
                    if batch:
                        self._answer(batch, [exc] * len(batch))
        finally:
            self._drainer = None

    def _answer(self, batch: list[Waiting], answers: list[Standing | None] | list[Exception]
                ) -> None:
        for (spend, future, settled), answer in zip(batch, answers, strict=True):
            del self._waiting[(spend[0], spend[2])]
            if not settled.done():
                settled.set_result(None)
            if future.done():  # its request was cancelled
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
