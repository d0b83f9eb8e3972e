"""What the sync and async clients share: building a signed request, reading an answer,
and when to try again."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import msgspec

from registry_client.calls import Call
from registry_client.problems import ProblemError, problem_of
from registry_client.signing import Signer

T = TypeVar("T")
MAX_BATCH = 1000  # API.md §6: at most 1000 items in a batch
RETRIED = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """429 and 503 are tried again after the node's Retry-After (or a short backoff),
    at most `attempts` times in all, and never waiting longer than `longest_wait` s."""

    attempts: int = 4
    longest_wait: float = 60.0
    backoff: float = 0.5

    def delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up."""
        if response.status_code not in RETRIED or attempt + 1 >= self.attempts:
            return None
        wait = retry_after(response.headers.get("Retry-After"))
        if wait is None:
            wait = self.backoff * 2 ** attempt
        return wait if wait <= self.longest_wait else None


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def build_request(base: httpx.URL, signer: Signer | None, call: Call[Any]) -> httpx.Request:
    """The request with `call.target` sent as raw bytes: exactly the `htu` it is signed
    with, never re-encoded by httpx."""
    headers = {"Accept": "application/json"}
    if call.body:
        headers["Content-Type"] = "application/json"
    if signer is not None and not call.public:
        headers["Authorization"] = signer.authorization(call.method, call.target, call.body)
    return httpx.Request(call.method, base.copy_with(raw_path=call.target.encode("ascii")),
                         headers=headers, content=call.body)


def node_base(url: str) -> httpx.URL:
    """The node's root URL. A path prefix is refused: the token signs the path the node
    sees, and a prefix a proxy strips would make every request a url_mismatch."""
    base = httpx.URL(url)
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if base.path not in ("", "/") or base.query:
        raise ValueError(f"{url!r}: give the node's root URL, without a path")
    return base


def answer_of(call: Call[T], response: httpx.Response) -> T:
    """The typed answer of a 2xx; a problem raised as ProblemError otherwise."""
    if response.status_code >= 400:
        raise ProblemError(problem_of(response.status_code, response.reason_phrase,
                                      response.content))
    if call.answer is object:  # raw JSON; a 204 is None
        decoded: Any = msgspec.json.decode(response.content) if response.content else None
        return decoded  # type: ignore[no-any-return]
    return msgspec.json.decode(response.content, type=call.answer)


def batches(items: Sequence[T], size: int = MAX_BATCH) -> Iterator[list[T]]:
    """`items` in lists of at most `size` (each one request; all or nothing per batch)."""
    if size < 1:
        raise ValueError("a batch holds at least one item")
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
