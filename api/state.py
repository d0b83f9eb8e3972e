"""What the app keeps for its lifetime: the pool, the node's identity and its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.types import Scope

from api.auth.key_cache import KeyCache
from api.settings import Settings


@dataclass
class NodeState:
    settings: Settings
    pool: asyncpg.Pool
    # Connections with synchronous_commit off, for bookkeeping whose last few hundred ms
    # may be lost in a crash without harm (spent nonces, rate counters): it spares every
    # signed request a WAL flush.
    bookkeeping_pool: asyncpg.Pool
    node_id: str
    node_key: Ed25519PrivateKey
    node_jwk: dict[str, Any]
    key_cache: KeyCache = field(default_factory=KeyCache)
    # Other capabilities (trace index, sync) hang their per-worker state here.
    extras: dict[str, Any] = field(default_factory=dict)


def node_state(scope: Scope) -> NodeState:
    state: NodeState = scope["app"].state.node
    return state
