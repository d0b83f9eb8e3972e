"""The event outbox: `emit` writes what concerns each recipient in the transaction of the
change it tells of, so an event exists exactly when its change committed (API.md §14).

Rows are numbered under the change log's append lock, held until commit: a row with a
higher seq always becomes visible after every lower one, so a reader's cursor (the last
seq it saw) never skips an event that commits later. An event for a member whose webhook
subscribes to its type also gets its delivery row here, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from registry import changelog
from registry.db import Connection
from registry.errors import Invalid
from registry.events.model import Draft, Event, EventPage, EventSubject
from registry.ids import new_ids
from registry.paging import decode_cursor, encode_cursor

_EMIT = """
WITH made AS (
    INSERT INTO events (id, recipient, type, subject_type, subject_id, data, once_key)
    SELECT e.id, e.recipient, e.type, e.subject_type, e.subject_id, e.data::jsonb, e.once_key
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[])
         AS e(id, recipient, type, subject_type, subject_id, data, once_key)
    ON CONFLICT (recipient, type, once_key) WHERE once_key IS NOT NULL DO NOTHING
    RETURNING seq, recipient, type
)
INSERT INTO webhook_deliveries (event_seq, member_id)
SELECT made.seq, made.recipient FROM made JOIN webhooks w ON w.member_id = made.recipient
WHERE cardinality(w.types) = 0 OR made.type = ANY (w.types)
"""
_encode = msgspec.json.Encoder().encode


async def emit(
    conn: Connection, type: str, subject: EventSubject, data: msgspec.Struct,
    recipients: Sequence[str], *, once: str | None = None,
) -> None:
    """Tell each recipient (a member id, or OPERATORS) of one change."""
    await emit_all(conn, [Draft(type, subject, data, tuple(recipients), once)])


async def emit_all(conn: Connection, drafts: Sequence[Draft]) -> None:
    """Write every draft's events (one per distinct recipient); call inside the change's
    own transaction."""
    if not conn.is_in_transaction():
        raise RuntimeError("events must be emitted in the transaction of their change")
    columns: tuple[list[str | None], ...] = ([], [], [], [], [], [])
    for draft in drafts:
        data = _encode(draft.data).decode()
        for recipient in dict.fromkeys(draft.recipients):
            row = (recipient, draft.type, draft.subject.type, draft.subject.id, data,
                   draft.once)
            for column, value in zip(columns, row, strict=True):
                column.append(value)
    if not columns[0]:
        return
    await changelog.hold_append_lock(conn)
    await conn.execute(_EMIT, new_ids("ev", len(columns[0])), *columns)


async def list_events(
    conn: Connection, recipient: str, *, after: str | None = None, limit: int = 100,
) -> EventPage:
    """What concerns `recipient`, oldest first, after the position `after` names."""
    after_seq = _position(after)
    rows = await conn.fetch(
        """SELECT seq, id, type, at, subject_type, subject_id, data FROM events
           WHERE recipient = $1 AND seq > $2 ORDER BY seq LIMIT $3""",
        recipient, after_seq, limit,
    )
    items = [Event(id=r["id"], type=r["type"], at=r["at"],
                   subject=EventSubject(r["subject_type"], r["subject_id"]), data=r["data"])
             for r in rows]
    last = rows[-1]["seq"] if rows else after_seq
    return EventPage(items, encode_cursor(last) if last else None)


def _position(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        key = decode_cursor(cursor)
    except Invalid as exc:
        raise Invalid.field("after", "not a cursor this registry issued") from exc
    if len(key) != 1 or not isinstance(key[0], int) or key[0] < 0:
        raise Invalid.field("after", "not a cursor this registry issued")
    return key[0]
