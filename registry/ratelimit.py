"""Fixed-window rate limits kept in PostgreSQL, so every worker counts against one budget."""

from __future__ import annotations

import math
import time

from registry.db import Connection
from registry.errors import RateLimited

_HIT = """
INSERT INTO rate_counters (bucket, window_start, hits) VALUES ($1, to_timestamp($2), 1)
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_counters.hits + 1
RETURNING hits
"""


async def hit(conn: Connection, bucket: str, limit: int, window_seconds: int = 60) -> None:
    """Count one request against `bucket`; raise RateLimited once `limit` is passed."""
    now = time.time()
    window_start = math.floor(now / window_seconds) * window_seconds
    hits = await conn.fetchval(_HIT, bucket, window_start)
    if hits > limit:
        retry_after = max(1, math.ceil(window_start + window_seconds - now))
        raise RateLimited(f"more than {limit} requests in {window_seconds} s", retry_after)


async def purge(conn: Connection, older_than_seconds: int = 3600) -> None:
    await conn.execute(
        "DELETE FROM rate_counters WHERE window_start < now() - make_interval(secs => $1)",
        older_than_seconds,
    )
