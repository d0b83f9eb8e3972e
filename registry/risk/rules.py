"""Risk-report deadlines (Article 24: within 48 hours of discovery), without a database."""

from __future__ import annotations

from datetime import datetime, timedelta

from registry.errors import Invalid

REPORT_WITHIN = timedelta(hours=48)
# Article 21(二): an agency tells its lenders of a personal-data incident within 24 hours.
TELL_LENDERS_WITHIN = timedelta(hours=24)
SHARED_CATEGORY = "personal_data_breach"
AGENCY_KIND = "collection_agency"
# Clocks differ a little; a discovery a few minutes "ahead" of ours is not an error.
CLOCK_SKEW = timedelta(minutes=5)


def due_at(discovered_at: datetime) -> datetime:
    return discovered_at + REPORT_WITHIN


def shared_with_lenders(category: str, reporter_kind: str | None) -> bool:
    """A breach an agency reports concerns every lender that entrusts it (API.md §11)."""
    return category == SHARED_CATEGORY and reporter_kind == AGENCY_KIND


def lender_due_at(category: str, reporter_kind: str, discovered_at: datetime) -> datetime | None:
    """When the reporter's lenders must have heard of it; None unless an agency's breach."""
    if not shared_with_lenders(category, reporter_kind):
        return None
    return discovered_at + TELL_LENDERS_WITHIN


def check_discovery(discovered_at: datetime, now: datetime) -> None:
    if discovered_at > now + CLOCK_SKEW:
        raise Invalid.field("discovered_at", "in the future")


def check_text(field: str, text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid.field(field, "required")
    return text

