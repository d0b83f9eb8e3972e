"""Resources, confirmations and filings as the API and the change log carry them (§6).

A confirmation or a filing is a record of its own, authored by the confirming or filing
member's node and naming the resource; each logged record carries the resource's kind
and value, so that a trace index can place it without holding resource ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

RESOURCE = "resource"
CONFIRMATION = "resource_confirmation"
FILING = "resource_filing"


def confirmation_id(resource_id: str, member_id: str) -> str:
    return f"rc:{resource_id}:{member_id}"


def filing_id(resource_id: str, entrustment_id: str) -> str:
    return f"rf:{resource_id}:{entrustment_id}"


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


class ResourceRecord(msgspec.Struct, kw_only=True):
    """A supply as the carrier's node logs it: the facts of other members stay out."""

    id: str
    kind: str
    value: str
    supplier_id: str
    assignee_id: str
    valid_from: datetime
    valid_to: datetime | None = None
    created_at: datetime | None = None


class ConfirmationRecord(msgspec.Struct, kw_only=True):
    """The assignee's confirmation that it uses a resource, logged by the assignee's node."""

    resource_id: str
    kind: str
    value: str
    member_id: str
    confirmed_at: datetime


class FilingRecord(msgspec.Struct, kw_only=True):
    """A lender's filing of its agency's resource under an entrustment, logged by the
    lender's node."""

    resource_id: str
    kind: str
    value: str
    entrustment_id: str
    lender_id: str
    filed_at: datetime
