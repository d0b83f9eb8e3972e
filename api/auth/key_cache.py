"""Per-worker cache of signing keys: key material never changes under a (principal, kid).

Only what cannot change is trusted from the cache (the JWK, the principal's role and
kind); revocation and member status are re-read with every request's nonce.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from registry.db import Connection
from registry.principals import SigningKey, find_signing_key

ConnectionFactory = Callable[[], AbstractAsyncContextManager[Connection]]


class KeyCache:
    def __init__(self, capacity: int = 20_000) -> None:
        self._keys: OrderedDict[tuple[str, str], SigningKey] = OrderedDict()
        self._capacity = capacity

    async def find(self, connect: ConnectionFactory, iss: str, kid: str) -> SigningKey | None:
        cached = self._keys.get((iss, kid))
        if cached is not None:
            self._keys.move_to_end((iss, kid))
            return cached
        async with connect() as conn:
            key = await find_signing_key(conn, iss, kid)
        # Misses are not cached: a key added a moment ago on another worker must work.
        if key is not None:
            self._keys[(iss, kid)] = key
            if len(self._keys) > self._capacity:
                self._keys.popitem(last=False)
        return key
