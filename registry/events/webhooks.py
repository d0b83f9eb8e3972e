"""Members' webhooks (API.md §14): where their events are posted, with which secret, and
how the deliveries went. Secrets are kept sealed with a node-local key; each is shown once,
when it is made. Node-local: webhooks are not in the change log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

import asyncpg
import msgspec

from registry.console.sealing import seal, unseal
from registry.db import Connection
from registry.errors import NotFound
from registry.events import signing

EventType = Literal[
    "member.status_changed", "resource.supplied", "filing.reviewed", "complaint.routed",
    "risk_event.shared", "evaluation.due", "rectification.overdue",
]
SEAL_PURPOSE = b"registry webhook secret v1"
RECENT_ERRORS = 10


class WebhookSet(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Annotated[str, msgspec.Meta(max_length=2048)]
    # Empty: every type.
    types: Annotated[list[EventType], msgspec.Meta(max_length=32)] = msgspec.field(
        default_factory=list)


class Webhook(msgspec.Struct, kw_only=True):
    member_id: str
    url: str
    types: list[str]
    created_at: datetime
    updated_at: datetime
    # Shown once, in the answer that made it; null everywhere else.
    secret: str | None = None
    # After a rotation the previous secret also signs every delivery until then.
    previous_secret_until: datetime | None = None


class AttemptError(msgspec.Struct, kw_only=True):
    event_id: str
    type: str
    attempt: int
    at: datetime
    status: int | None
    error: str | None


class WebhookStatus(msgspec.Struct, kw_only=True):
    webhook: Webhook | None
    pending: int
    delivered: int
    failed: int
    last_delivered_at: datetime | None
    next_attempt_at: datetime | None
    last_errors: list[AttemptError]


class SigningSecrets(msgspec.Struct, frozen=True):
    url: str
    secrets: tuple[str, ...]


_RETURNING = "RETURNING member_id, url, types, created_at, updated_at, previous_until"


def _webhook(row: asyncpg.Record | None, secret: str | None = None) -> Webhook:
    assert row is not None
    return Webhook(member_id=row["member_id"], url=row["url"], types=list(row["types"]),
                   created_at=row["created_at"], updated_at=row["updated_at"],
                   secret=secret, previous_secret_until=row["previous_until"])


async def put_webhook(
    conn: Connection, member_id: str, data: WebhookSet, key: bytes, overlap: timedelta
) -> Webhook:
    """Set the member's webhook and give it a new secret; a secret it had before keeps
    signing alongside for `overlap`, so a receiver can switch without losing a delivery."""
    secret = signing.new_secret()
    row = await conn.fetchrow(
        f"""INSERT INTO webhooks (member_id, url, types, secret) VALUES ($1, $2, $3, $4)
           ON CONFLICT (member_id) DO UPDATE SET url = $2, types = $3, secret = $4,
               previous_secret = webhooks.secret, previous_until = now() + $5,
               updated_at = now()
           {_RETURNING}""",  # noqa: S608  (a constant; every value is a $n parameter)
        member_id, data.url, sorted(set(data.types)), seal(key, secret, SEAL_PURPOSE), overlap,
    )
    return _webhook(row, secret)


async def rotate_secret(
    conn: Connection, member_id: str, key: bytes, overlap: timedelta
) -> Webhook:
    secret = signing.new_secret()
    row = await conn.fetchrow(
        f"""UPDATE webhooks SET secret = $2, previous_secret = secret,
               previous_until = now() + $3, updated_at = now()
           WHERE member_id = $1 {_RETURNING}""",  # noqa: S608
        member_id, seal(key, secret, SEAL_PURPOSE), overlap,
    )
    if row is None:
        raise NotFound(f"member {member_id} has no webhook")
    return _webhook(row, secret)


async def delete_webhook(conn: Connection, member_id: str) -> None:
    """No more deliveries: pending ones are given up, and say why."""
    async with conn.transaction():
        gone = await conn.fetchval(
            "DELETE FROM webhooks WHERE member_id = $1 RETURNING member_id", member_id)
        if gone is None:
            raise NotFound(f"member {member_id} has no webhook")
        await conn.execute(
            "UPDATE webhook_deliveries SET state = 'failed', last_error = 'webhook removed'"
            " WHERE member_id = $1 AND state = 'pending'", member_id)


def signing_secrets(
    key: bytes, url: str, secret: str, previous: str | None, previous_until: datetime | None,
    now: datetime,
) -> SigningSecrets:
    """The secrets a delivery made `now` is signed with (an unreadable one is skipped)."""
    sealed = [secret]
    if previous is not None and previous_until is not None and now < previous_until:
        sealed.append(previous)
    opened = tuple(s for s in (unseal(key, t, SEAL_PURPOSE) for t in sealed) if s is not None)
    return SigningSecrets(url, opened)


_STATUS = """
SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
       count(*) FILTER (WHERE state = 'delivered') AS delivered,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       max(delivered_at) AS last_delivered_at,
       min(next_attempt_at) FILTER (WHERE state = 'pending') AS next_attempt_at
FROM webhook_deliveries WHERE member_id = $1
"""
_LAST_ERRORS = """
SELECT e.id AS event_id, e.type, a.attempt, a.at, a.status, a.error
FROM webhook_attempts a JOIN events e ON e.seq = a.event_seq
WHERE a.member_id = $1 AND NOT coalesce(a.status BETWEEN 200 AND 299, false)
ORDER BY a.at DESC, a.event_seq DESC LIMIT $2
"""


async def webhook_status(conn: Connection, member_id: str) -> WebhookStatus:
    """The member's webhook (without its secret) and how its deliveries went."""
    row = await conn.fetchrow(
        "SELECT member_id, url, types, created_at, updated_at, previous_until"
        " FROM webhooks WHERE member_id = $1", member_id)
    counts = await conn.fetchrow(_STATUS, member_id)
    assert counts is not None
    errors = await conn.fetch(_LAST_ERRORS, member_id, RECENT_ERRORS)
    return WebhookStatus(
        webhook=None if row is None else _webhook(row),
        pending=counts["pending"], delivered=counts["delivered"], failed=counts["failed"],
        last_delivered_at=counts["last_delivered_at"],
        next_attempt_at=counts["next_attempt_at"],
        last_errors=[msgspec.convert(dict(e), AttemptError) for e in errors],
    )
