"""Resources, confirmations, filings and trace answers as the API and change log carry them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

from registry.trace.decision import Window

ResourceKind = Literal["voice", "voice_block", "sms_code"]
MAX_BATCH = 1000
# Times the registry reasons about; outside them a date is a typing error, not a plan.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


class ResourceSupply(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: ResourceKind
    value: str
    assignee_id: str
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class ResourceChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the supplying carrier may change later: the validity (a supply's end ends it)."""

    valid_from: datetime | None = None
    valid_to: datetime | None = None


class SupplyBatch(msgspec.Struct, forbid_unknown_fields=True):
    items: list[ResourceSupply]


class ConfirmBatch(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[str]


class FilingCreate(msgspec.Struct, forbid_unknown_fields=True):
    entrustment_id: str


class Resource(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    kind: str
    value: str
    supplier_id: str
    assignee_id: str
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime
    confirmed: bool = False
    confirmed_at: datetime | None = None


class Ids(msgspec.Struct):
    ids: list[str]


class Filing(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    resource_id: str
    entrustment_id: str
    lender_id: str
    filed_at: datetime


class TraceRequest(msgspec.Struct, forbid_unknown_fields=True):
    values: list[str]
    at: datetime | None = None


class SupplierRef(msgspec.Struct, frozen=True):
    id: str
    name: str
    uscc: str


class UserRef(msgspec.Struct, frozen=True):
    id: str
    name: str
    kind: str


class PrincipalRef(msgspec.Struct, frozen=True):
    id: str
    name: str


class Checkpoint(msgspec.Struct, frozen=True):
    node: str
    seq: int


class TraceResult(msgspec.Struct, frozen=True):
    value: str
    kind: str | None
    traceable: bool
    reason: str | None
    supplier: SupplierRef | None
    user: UserRef | None
    principals: tuple[PrincipalRef, ...]
    window: Window
    checkpoint: Checkpoint
    # The number block a voice number matched, when it has no entry of its own.
    block: str | None = None


class TraceResults(msgspec.Struct):
    results: list[TraceResult]


class PublicCheck(msgspec.Struct):
    registered: bool
    user: str | None
    principals: list[str]
