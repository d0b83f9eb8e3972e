"""What every kind of record shares: how it is declared, where it may be changed, and why.

A record type that federates is declared ONCE, as a `RecordType` in the table of
`registry/record_types.py`. The declaration says everything the rest of the node derives
from it, so that a new type cannot forget a rule:

- `name`, `table`: the change log's `type` and the table that holds its records;
- `payload`: the msgspec Struct of its change-log data. The payload is the federation
  contract: writers log it with `changelog.append_one(conn, type, id, payload)` or
  `changelog.record(type, id, payload)`, appliers receive it decoded; nobody builds it
  as a dict by hand (tests/test_record_types.py checks that every change the test
  scenarios log is exactly its declared payload). The trace index alone still reads its
  five types' data as plain dicts, on its hot path (registry/trace/index.py);
- `apply`: how a peer's change is held here, `(conn, origin, id, payload)`. Every row it
  writes is guarded by origin; the replica rule (registry/replicas.py) has already
  refused a change that names a record of another origin, and removes `dependents` with
  the record on a tombstone;
- `peers`: whether every peer receives it with data by default (`DEFAULT`), or only a
  peer configured for it with `registry peer add --also-send TYPE` (`ON_REQUEST`);
- `members`: which members receive it with data in `GET /v1/sync/changes`: exactly those
  that could read the record through the regular endpoints (`EVERY_MEMBER`, `NO_MEMBER`,
  or `parties("lender_id", ...)`: the members the payload names in those fields);
- `trace`: whether the trace index reads it. Those records also reach every active
  carrier in full, since a carrier's mirror (sync/mirror.py) answers traces from them;
- `author`: the payload field naming the member whose act the record is; a peer may log
  only the acts of its own members.

Adding a type, step by step:

1. its payload Struct in the domain's model (what the log carries, nothing else);
2. its writes log it: `changelog.append_one(conn, "my_type", id, payload)`;
3. `async def apply_remote(conn, origin, record_id, payload)` beside its store: an
   upsert `... ON CONFLICT (id) DO UPDATE ... WHERE my_table.origin = $origin`, and
   dependent rows written only when that upsert held (`RETURNING id`);
4. one `RecordType(...)` line in registry/record_types.py. `members` may be any pure
   function `(Reader, payload) -> bool` when `parties(...)` does not say it; it must
   never let a member see more than the type's regular endpoints show that member;
5. tests: a maker in tests/support/every_record.py (and its name in MADE), an altered
   field in ALTERED of tests/test_record_authority.py, and the regular read in `shown()`
   of tests/test_feed_confidentiality.py; tests/test_record_types.py fails until then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

import msgspec

from registry.db import Connection
from registry.errors import Forbidden, Invalid

MAX_TEXT = 500
Payload = TypeVar("Payload", bound=msgspec.Struct)


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


class RefusedChange(Exception):
    """A peer's verified change that this node will not hold: it names a record of another
    origin, or its data is not the record its type declares. The whole page is refused and
    the peer stops with a recorded fault (API.md §8: no origin speaks for another)."""


class Peers(Enum):
    DEFAULT = "every peer"
    ON_REQUEST = "peers configured with --also-send"


@dataclass(frozen=True)
class Reader:
    """A member reading the change feed: what it may see depends on who it is."""

    id: str
    kind: str | None
    status: str | None

    @property
    def mirrors(self) -> bool:
        """An active carrier keeps a trace mirror, which needs every trace record."""
        return self.kind == "carrier" and self.status == "active"


MemberRule = Callable[[Reader, Any], bool]


def EVERY_MEMBER(reader: Reader, payload: object) -> bool:  # noqa: N802 (a constant rule)
    return True


def NO_MEMBER(reader: Reader, payload: object) -> bool:  # noqa: N802
    return False


def parties(*fields: str) -> MemberRule:
    """The members a record names in `fields` (its lender and agency, its reporter ...)."""

    def named(reader: Reader, payload: object) -> bool:
        return any(getattr(payload, f) == reader.id for f in fields)

    named.__doc__ = f"the members named in {', '.join(fields)}"
    return named


Upsert = Callable[[Connection, str, str, Payload], Awaitable[None]]
# (conn, origin, [(id, payload or None), ...]) in log order; a later change of an id wins.
BatchUpsert = Callable[[Connection, str, Sequence[tuple[str, Payload | None]]], Awaitable[None]]


@dataclass(frozen=True)
class RecordType(Generic[Payload]):
    name: str
    table: str
    payload: type[Payload]
    apply: Upsert[Payload]
    peers: Peers
    members: MemberRule
    trace: bool
    # The payload field naming the member whose act the record is (its supplier, filer,
    # reporter ...): only that member's home node may log it. None: nobody's act.
    author: str | None
    # Rows that hang on the record by (table, column) and go with it on a tombstone.
    dependents: tuple[tuple[str, str], ...] = ()
    # For a type sent in bulk (a carrier's million numbers): a page's changes at once.
    apply_batch: BatchUpsert[Payload] | None = None

    def decode(self, data: bytes | str) -> Payload:
        """A logged payload of this type; RefusedChange when it is not one."""
        try:
            return msgspec.json.decode(data, type=self.payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RefusedChange(f"{self.name}: the data is not a {self.name}: {exc}") from exc

    def readable_by(self, reader: Reader, data: bytes | str) -> bool:
        """Whether `reader` (a member) receives this change's data in the feed."""
        if self.members is EVERY_MEMBER or (self.trace and reader.mirrors):
            return True
        if self.members is NO_MEMBER:
            return False
        try:
            payload = self.decode(data)
        except RefusedChange:
            return False
        return self.members(reader, payload)
