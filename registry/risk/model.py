"""Major risk-event reports (guideline Article 24) as the API and the change log carry them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

# Article 24(一) 1-5, in its order.
RiskCategory = Literal[
    # investigated by an authority, or a criminal or major administrative penalty
    "regulatory_action",
    "violent_collection",  # collectors' violence endangering debtors or their contacts
    "personal_data_breach",  # serious leak, loss or tampering of personal data
    "black_market_interference",  # organised black-market groups seriously disrupting collection
    "other",
]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]


class RiskEventCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    category: RiskCategory
    discovered_at: AwareDatetime
    summary: Text
    # What Article 24 asks a report to state: cause, current state, impact, measures.
    cause: Text | None = None
    situation: Text | None = None
    impact: Text | None = None
    measures: Text | None = None
    # The institution the event concerns (涉事机构); the reporter itself when not given.
    institution_id: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class RiskUpdateCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A follow-up; it may also supply what the first report left out (Article 24)."""

    summary: Text
    cause: Text | None = None
    situation: Text | None = None
    impact: Text | None = None
    measures: Text | None = None


class RiskUpdate(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    by: str
    summary: str
    cause: str | None = None
    situation: str | None = None
    impact: str | None = None
    measures: str | None = None


class RiskForward(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An operator's note that a report went on to the regulator, and to which one."""

    to: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class RiskEvent(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    reporter_id: str
    reporter_kind: str
    category: str
    discovered_at: datetime
    reported_at: datetime
    due_at: datetime
    late: bool
    summary: str
    cause: str | None
    situation: str | None
    impact: str | None
    measures: str | None
    updates: list[RiskUpdate] = msgspec.field(default_factory=list)
    institution_id: str | None = None
    # Any of cause, situation, impact, measures still missing (Article 24(一)).
    incomplete: bool = False
    # A personal-data breach an agency reports: when its lenders must have heard of it
    # (discovered_at + 24 h, Article 21(二)); None for every other report.
    lender_due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    forwarded_at: datetime | None = None
    forwarded_by: str | None = None
    forwarded_to: str | None = None


class RiskEventPage(msgspec.Struct):
    items: list[RiskEvent]
    next_cursor: str | None
