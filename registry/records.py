"""Rules every kind of record shares: where it may be changed, and why it was changed."""

from __future__ import annotations

from registry.errors import Forbidden, Invalid

MAX_TEXT = 500


def refuse_foreign(origin: str, home: str, what: str) -> None:
    """A record that came from a peer is read-only here: only its home node changes it."""
    if origin != home:
        raise Forbidden(f"{what} belongs to node {origin}; change it there",
                        code="foreign_record")


def check_reason(reason: str) -> str:
    """The reason every status change and decision must give, trimmed."""
    reason = reason.strip()
    if not reason:
        raise Invalid.field("reason", "a reason is required")
    if len(reason) > MAX_TEXT:
        raise Invalid.field("reason", f"at most {MAX_TEXT} characters")
    return reason
