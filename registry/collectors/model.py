"""Collector filings and checks as the API and the change log carry them (API.md §7).

No struct here holds a raw id number after validation: requests carry it in, the store
turns it into a keyed hash and masks at once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

IdType = Literal["prc_id"]
FilingStatus = Literal["submitted", "published", "rejected", "revoked", "expired"]

# Serious misconduct a member dismisses a collector for, each tied to the guideline's
# conduct rules (Articles 7, 11, 15, 16, 19) and Article 6(二)4.
Violation = Literal[
    "violence", "third_party_contact", "false_identity", "false_consequences",
    "illegal_fees", "privacy_breach", "harassment", "other",
]
VIOLATIONS: dict[str, str] = {
    "violence": "violence, threats or intimidation (Art. 11, 24(一)2)",
    "third_party_contact": "contacting third parties about the debt (Art. 7, 8)",
    "false_identity": "hiding or faking identity, collecting in a personal name (Art. 11(一))",
    "false_consequences": "exaggerated or invented consequences (Art. 11(二))",
    "illegal_fees": "extra fees or unofficial collection channels (Art. 11(三)(四))",
    "privacy_breach": "leaking or misusing personal data (Art. 19-22)",
    "harassment": "outside permitted hours or beyond permitted frequency (Art. 9, 15, 16)",
    "other": "other serious misconduct",
}


class CollectorFilingCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id_type: IdType
    id_number: str
    name: str
    violations: list[Violation]
    incident_on: date
    dismissed_on: date
    summary: str
    evidence_sha256: list[str] = msgspec.field(default_factory=list)


class Review(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["publish", "reject"]
    reason: str


class Revocation(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class Subject(msgspec.Struct, frozen=True):
    name_masked: str
    id_masked: str


class FilingEvent(msgspec.Struct, frozen=True):
    status: str
    reason: str
    at: datetime
    by: str


class CollectorFiling(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    status: FilingStatus
    filer_id: str
    filer_kind: str
    id_type: str
    subject: Subject
    violations: list[str]
    incident_on: date
    dismissed_on: date
    summary: str
    evidence_sha256: list[str]
    created_at: datetime
    published_at: datetime | None = None
    expires_at: datetime | None = None
    history: list[FilingEvent] = msgspec.field(default_factory=list)


class CollectorFilingRecord(CollectorFiling, kw_only=True):
    """A filing as the change log carries it: self-contained for a peer, with the keyed
    hash of the id number (never the number, never the full name) and the stored status
    (not "expired", which each reader works out from expires_at)."""

    subject_hash: str
    hash_version: int


class FilingPage(msgspec.Struct):
    items: list[CollectorFiling]
    next_cursor: str | None


class CollectorCheck(msgspec.Struct, forbid_unknown_fields=True):
    id_type: IdType
    id_number: str


class ListedFiling(msgspec.Struct, frozen=True):
    id: str
    violations: list[str]
    published_at: datetime
    filer_kind: str


class CheckResult(msgspec.Struct, frozen=True):
    listed: bool
    filings: list[ListedFiling]


class CheckAuditEntry(msgspec.Struct, frozen=True):
    id: int
    checker_id: str
    checker_role: str
    at: datetime
    subject_hash: str
    hash_version: int
    result: Literal["listed", "not_listed", "rate_limited"]
    filing_ids: list[str]


class CheckAuditPage(msgspec.Struct):
    items: list[CheckAuditEntry]
    next_cursor: str | None
