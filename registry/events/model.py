"""Events as the feed and webhooks carry them (API.md §14), and each type's data.

Every type's `data` is a Struct of its own: it crosses to members' systems, so its shape is
a contract like any answer's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

# Events for the association's operators are addressed to this recipient, not a member.
OPERATORS = "operators"

MEMBER_STATUS_CHANGED = "member.status_changed"
RESOURCE_SUPPLIED = "resource.supplied"
FILING_REVIEWED = "filing.reviewed"
COMPLAINT_ROUTED = "complaint.routed"
RISK_EVENT_SHARED = "risk_event.shared"
EVALUATION_DUE = "evaluation.due"
RECTIFICATION_OVERDUE = "rectification.overdue"
PEER_FAULTED = "peer.faulted"
EVENT_TYPES = (
    MEMBER_STATUS_CHANGED, RESOURCE_SUPPLIED, FILING_REVIEWED, COMPLAINT_ROUTED,
    RISK_EVENT_SHARED, EVALUATION_DUE, RECTIFICATION_OVERDUE, PEER_FAULTED,
)


class EventSubject(msgspec.Struct, frozen=True):
    """The record an event is about."""

    type: str
    id: str


class MemberStatusChanged(msgspec.Struct, frozen=True, kw_only=True):
    member_id: str
    name: str
    kind: str
    status: str
    reason: str


class ResourceSupplied(msgspec.Struct, frozen=True, kw_only=True):
    resource_id: str
    kind: str
    value: str
    supplier_id: str
    valid_from: datetime
    valid_to: datetime | None


class FilingReviewed(msgspec.Struct, frozen=True, kw_only=True):
    filing_id: str
    decision: str
    status: str
    reason: str


class ComplaintRouted(msgspec.Struct, frozen=True, kw_only=True):
    complaint_id: str
    number: str
    category: str
    received_at: datetime
    respond_by: datetime
    # Why this recipient got it: "user", "principal" or "operators".
    role: str
    traceable: bool


class RiskEventShared(msgspec.Struct, frozen=True, kw_only=True):
    risk_event_id: str
    reporter_id: str
    category: str
    discovered_at: datetime
    lender_due_at: datetime


class EvaluationDue(msgspec.Struct, frozen=True, kw_only=True):
    entrustment_id: str
    lender_id: str
    agency_id: str
    due_on: date
    # Already past due_on when told (a node that was down, or a short notice setting).
    overdue: bool


class RectificationOverdue(msgspec.Struct, frozen=True, kw_only=True):
    rectification_id: str
    entrustment_id: str
    lender_id: str
    agency_id: str
    cause: str
    due_on: date


class PeerFaulted(msgspec.Struct, frozen=True, kw_only=True):
    peer: str
    fault: str


class Event(msgspec.Struct, kw_only=True):
    id: str
    type: str
    at: datetime
    subject: EventSubject
    data: dict[str, Any]


class EventPage(msgspec.Struct):
    items: list[Event]
    # The position after the last item: pass it as `after` to read on (also when empty).
    next_cursor: str | None


class Draft(msgspec.Struct, frozen=True):
    """An event before it is written: one row per recipient."""

    type: str
    subject: EventSubject
    data: msgspec.Struct
    recipients: tuple[str, ...]
    # Tell of this item once only, however often it is found (periodic jobs).
    once: str | None = None
