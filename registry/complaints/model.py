"""Complaints and responses as the API and the change log carry them (API.md §13)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

ComplaintCategory = Literal["time", "frequency", "abuse", "third_party", "impersonation", "other"]
CATEGORIES: tuple[str, ...] = ComplaintCategory.__args__  # type: ignore[attr-defined]
Outcome = Literal["resolved", "rejected", "forwarded"]
# A complaint's status: open until a response, then the latest response's outcome.
Status = Literal["open", "resolved", "rejected", "forwarded"]
Role = Literal["user", "principal", "operators"]
Source = Literal["carrier", "operator", "public"]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Number = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
# A person writes less, and writes it in a public form.
PublicText = Annotated[str, msgspec.Meta(max_length=1000)]
# Where a complaint goes to the association rather than to a member.
OPERATORS = "operators"


class ComplaintCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    number: Number
    received_at: AwareDatetime
    category: ComplaintCategory
    summary: Text


class PublicComplaintCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What a person who got a call reports: nothing about the person is asked."""

    number: Number
    at: AwareDatetime
    category: ComplaintCategory
    description: PublicText


class ResponseCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    outcome: Outcome
    summary: Text


class ComplaintRoute(msgspec.Struct, frozen=True, kw_only=True):
    """One recipient of a complaint: a member as the trace named it, or the operators."""

    id: str
    name: str
    role: Role


class ComplaintRecord(msgspec.Struct, kw_only=True):
    """A complaint as its home node logs it (the federation contract)."""

    id: str
    origin: str
    source: Source
    filer_id: str
    number: str
    received_at: datetime
    category: str
    summary: str
    respond_by: datetime
    traceable: bool
    reason: str | None
    routed_to: list[ComplaintRoute]
    created_at: datetime


class ComplaintResponse(msgspec.Struct, kw_only=True):
    """A response, logged by the responder's home node (a record of its own, referencing
    the complaint, so a member answers on its own node whoever filed the complaint)."""

    id: str
    origin: str
    complaint_id: str
    responder_id: str
    outcome: str
    summary: str
    at: datetime


class Complaint(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    source: str
    # Who filed it: shown to operators and the filer only.
    filer_id: str | None
    number: str
    received_at: datetime
    category: str
    summary: str
    routed_to: list[ComplaintRoute]
    traceable: bool
    reason: str | None
    respond_by: datetime
    late: bool
    status: str
    responses: list[ComplaintResponse]
    created_at: datetime


class ComplaintPage(msgspec.Struct):
    items: list[Complaint]
    next_cursor: str | None


class PublicReceipt(msgspec.Struct, kw_only=True):
    """What the person is told: it was received, and by when it is to be answered."""

    id: str
    respond_by: datetime
    # True when the number is a registered collection number (its owners were told).
    registered: bool
    # An identical report was already received: this one was counted with it.
    duplicate: bool = False
