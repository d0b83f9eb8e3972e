"""Members as the API and the change log carry them (API.md §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

MemberKind = Literal["lender", "debt_buyer", "collection_agency", "carrier"]
MemberStatus = Literal["pending", "active", "suspended", "removed"]

# Article 2 of the guideline names who may lend or buy debt.
SUBTYPES: dict[str, frozenset[str]] = {
    "lender": frozenset({
        "commercial_bank", "consumer_finance_company", "microloan_company",
        "auto_finance_company",
    }),
    "debt_buyer": frozenset({
        "asset_management_company", "local_asset_management_company",
        "financial_asset_investment_company", "financing_guarantee_company",
    }),
}


class Contact(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class Complaints(msgspec.Struct, forbid_unknown_fields=True):
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    process: str | None = None


class MemberCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: MemberKind
    name: str
    uscc: str
    subtype: str | None = None
    contact: Contact = msgspec.field(default_factory=Contact)
    complaints: Complaints = msgspec.field(default_factory=Complaints)
    keys: list[dict[str, Any]] = msgspec.field(default_factory=list)


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    status: MemberStatus
    reason: str


class StatusEvent(msgspec.Struct, frozen=True):
    status: str
    reason: str
    at: datetime
    by: str


class PublicKey(msgspec.Struct, frozen=True, omit_defaults=True):
    kid: str
    jwk: dict[str, Any]
    added_at: datetime
    revoked_at: datetime | None = None


class MemberRecord(msgspec.Struct, kw_only=True):
    """A member as the change log carries it: its status history, not its keys (which
    stay at its home node, the only node it signs to)."""

    id: str
    origin: str
    kind: str
    subtype: str | None
    name: str
    uscc: str
    contact: Contact
    complaints: Complaints
    status: str
    created_at: datetime
    history: list[StatusEvent] = msgspec.field(default_factory=list)


class Member(MemberRecord, kw_only=True):
    """A member as the API shows it: the logged record and, at its home node, its keys."""

    keys: list[PublicKey] = msgspec.field(default_factory=list)


class MemberPage(msgspec.Struct):
    items: list[Member]
    next_cursor: str | None
