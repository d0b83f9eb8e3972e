"""Entrustments as the API and the change log carry them (API.md §5, §11; Art. 17, 18)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

# Article 17(二): what an agency undertakes in writing before it collects for a lender.
Commitment = Literal["no_subcontracting", "confidentiality", "accept_supervision",
                     "accept_regulators"]
Grade = Literal["A", "B", "C", "D"]
RectificationCause = Literal["suspected_violation", "personal_data_incident", "consumer_harm"]
Outcome = Literal["rectified", "failed"]
Score = Annotated[int, msgspec.Meta(ge=0, le=100)]
Summary = Annotated[str, msgspec.Meta(max_length=4000)]


class EntrustmentCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    agency_id: str
    starts_on: date
    ends_on: date
    subcontracting_allowed: bool = False
    parent_id: str | None = None


class EntrustmentEnd(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class EntrustmentRecord(msgspec.Struct, kw_only=True):
    """An entrustment as the change log carries it (its origin is the entry's own)."""

    id: str
    lender_id: str
    agency_id: str
    starts_on: date
    ends_on: date
    subcontracting_allowed: bool
    parent_id: str | None
    ended: bool
    ended_at: datetime | None
    end_reason: str | None
    created_at: datetime


class CommitmentsCreate(msgspec.Struct, forbid_unknown_fields=True):
    commitments: list[Commitment]


class Commitments(msgspec.Struct, kw_only=True):
    """The agency's signed commitments: one record of the agency's node per entrustment."""

    id: str
    entrustment_id: str
    agency_id: str
    commitments: list[str]
    made_at: datetime


class Scores(msgspec.Struct, forbid_unknown_fields=True):
    """Article 18(二): compliance, effectiveness, data security, records, complaints."""

    compliance: Score
    effectiveness: Score
    data_security: Score
    records: Score
    complaints: Score


class EvaluationCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    period_end: date
    grade: Grade
    scores: Scores
    summary: Summary


class Evaluation(msgspec.Struct, kw_only=True):
    id: str
    entrustment_id: str
    lender_id: str
    period_end: date
    grade: str
    scores: Scores
    summary: str
    made_at: datetime


class RectificationCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    cause: RectificationCause
    due_on: date
    summary: Summary


class RectificationClose(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    outcome: Outcome
    summary: Summary


class RectificationRecord(msgspec.Struct, kw_only=True):
    id: str
    entrustment_id: str
    lender_id: str
    cause: str
    due_on: date
    summary: str
    status: str  # "open" or "closed"
    outcome: str | None
    outcome_summary: str | None
    opened_at: datetime
    closed_at: datetime | None


class Rectification(RectificationRecord, kw_only=True):
    overdue: bool = False  # open and past due_on (Beijing date)


class Entrustment(EntrustmentRecord, kw_only=True):
    """An entrustment as the API answers it: with the node it belongs to and its
    supervision (API.md §11), which are other records or derived from them."""

    origin: str
    commitments: Commitments | None = None
    evaluations: list[Evaluation] = msgspec.field(default_factory=list)
    evaluation_due_on: date | None = None
    evaluation_overdue: bool = False
    rectifications: list[Rectification] = msgspec.field(default_factory=list)
    agency_status: str | None = None


class EntrustmentPage(msgspec.Struct):
    items: list[Entrustment]
    next_cursor: str | None


class PublicAgency(msgspec.Struct):
    """An agency a lender currently entrusts, with where to complain (Art. 13, 23)."""

    id: str
    name: str
    uscc: str
    starts_on: date
    ends_on: date
    complaints: dict[str, str | None]
    contact: dict[str, str | None] = msgspec.field(default_factory=dict)


class PublicLender(msgspec.Struct):
    """A lender or debt buyer as it discloses itself, with its own complaint channels."""

    id: str
    name: str
    uscc: str
    kind: str
    complaints: dict[str, str | None] = msgspec.field(default_factory=dict)


class PublicAgencies(msgspec.Struct):
    lender: PublicLender
    agencies: list[PublicAgency]
    complaints: dict[str, str | None] = msgspec.field(default_factory=dict)
