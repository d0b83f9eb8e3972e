"""What can go wrong while pulling: a fault in what a peer sent, or a failure to get it."""

from __future__ import annotations


class SyncFault(Exception):
    """The feed does not verify: nothing past it is applied until an operator clears it."""

    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(reason if seq is None else f"seq {seq}: {reason}")
        self.reason = reason
        self.seq = seq


class PullFailed(Exception):
    """The peer could not be reached or answered with an error: try again later."""
