"""How far each peer's pull got, for operators (JSON) and for monitoring (Prometheus text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from registry.db import Connection
from sync.feed import head


class PeerStatus(msgspec.Struct):
    node_id: str
    url: str
    send_types: list[str]
    last_applied_seq: int
    peer_head_seq: int
    lag: int  # changes the peer has that are not applied here
    seconds_since_pull: float | None  # since the last successful pull (None: never)
    last_pull_at: datetime | None
    last_applied_at: datetime | None
    last_error: str | None
    fault: str | None
    fault_at: datetime | None


class SyncStatus(msgspec.Struct):
    node_id: str
    head_seq: int
    head_hash: str
    peers: list[PeerStatus]


_PEERS = """
SELECT p.node_id, p.url, p.send_types, s.applied_seq, s.peer_head_seq, s.last_pull_at,
       s.last_applied_at, s.last_error, s.fault, s.fault_at,
       extract(epoch FROM now() - s.last_pull_at)::float8 AS since_pull
FROM peers p JOIN sync_state s ON s.peer = p.node_id ORDER BY p.node_id
"""


def _peer_status(row: Any) -> PeerStatus:
    lag = max(0, row["peer_head_seq"] - row["applied_seq"])
    return PeerStatus(
        row["node_id"], row["url"], list(row["send_types"]), row["applied_seq"],
        row["peer_head_seq"], lag,
        None if row["since_pull"] is None else round(row["since_pull"], 3),
        row["last_pull_at"], row["last_applied_at"], row["last_error"], row["fault"],
        row["fault_at"],
    )


async def sync_status(conn: Connection, node_id: str) -> SyncStatus:
    head_seq, head_hash = await head(conn, node_id)
    peers = [_peer_status(r) for r in await conn.fetch(_PEERS)]
    return SyncStatus(node_id, head_seq, head_hash, peers)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(status: SyncStatus) -> str:
    """The status in the Prometheus text exposition format (version 0.0.4)."""
    node = _label(status.node_id)
    lines = [
        "# HELP registry_change_log_head_seq Newest seq of this node's own change log.",
        "# TYPE registry_change_log_head_seq gauge",
        f'registry_change_log_head_seq{{node="{node}"}} {status.head_seq}',
    ]
    gauges: list[tuple[str, str, Any]] = [
        ("registry_sync_applied_seq", "Last seq of the peer's log applied here.",
         lambda p: p.last_applied_seq),
        ("registry_sync_peer_head_seq", "Newest seq the peer reported.",
         lambda p: p.peer_head_seq),
        ("registry_sync_lag_changes", "Changes of the peer not yet applied here.",
         lambda p: p.lag),
        ("registry_sync_seconds_since_pull", "Seconds since the last successful pull (-1: never).",
         lambda p: -1 if p.seconds_since_pull is None else p.seconds_since_pull),
        ("registry_sync_fault", "1 when pulling from the peer stopped on a fault.",
         lambda p: int(p.fault is not None)),
        ("registry_sync_error", "1 when the last pull from the peer failed.",
         lambda p: int(p.last_error is not None)),
    ]
    for name, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f'{name}{{node="{node}",peer="{_label(p.node_id)}"}} {value(p)}'
                  for p in status.peers]
    return "\n".join(lines) + "\n"
