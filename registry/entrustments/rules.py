"""Entrustment rules that need no database: dates, subcontracts, ending (Art. 17)."""

from __future__ import annotations

from datetime import date, datetime

from registry.entrustments.model import Entrustment, EntrustmentCreate
from registry.errors import Conflict, FieldError, Forbidden, Invalid
from registry.trace.decision import SHANGHAI

AGENCY_KIND = "collection_agency"


def today() -> date:
    """Dates in entrustments are Beijing dates, like the calling window."""
    return datetime.now(SHANGHAI).date()


def check_dates(data: EntrustmentCreate) -> None:
    if data.ends_on < data.starts_on:
        raise Invalid.field("ends_on", "must not be before starts_on")


def check_agency(agency: tuple[str, str] | None) -> None:
    """`agency` is (kind, status) of the named member, or None when there is none."""
    if agency is None:
        raise Invalid.field("agency_id", "no such member")
    kind, status = agency
    if kind != AGENCY_KIND:
        raise Invalid.field("agency_id", "not a collection agency")
    if status != "active":
        raise Invalid.field("agency_id", f"the agency is {status}, not active")


def check_subcontract(parent: Entrustment, lender_id: str, data: EntrustmentCreate) -> None:
    """A subcontract hangs under the caller's own entrustment that allows it, one level deep."""
    if parent.lender_id != lender_id:
        raise Forbidden("the parent entrustment is not yours")
    if parent.parent_id is not None:
        raise Conflict("a subcontract cannot be subcontracted again", code="resubcontracting")
    if not parent.subcontracting_allowed:
        raise Conflict("the parent entrustment does not allow subcontracting",
                       code="subcontracting_not_allowed")
    if parent.ended:
        raise Conflict("the parent entrustment has ended", code="entrustment_ended")
    problems = []
    if data.starts_on < parent.starts_on:
        problems.append(FieldError("starts_on", "before the parent entrustment starts"))
    if data.ends_on > parent.ends_on:
        problems.append(FieldError("ends_on", "after the parent entrustment ends"))
    if problems:
        raise Invalid(problems)


def end_on(entrustment: Entrustment, on: date) -> date:
    """The day an entrustment ended `on` ends: today, but never before it started."""
    return max(entrustment.starts_on, min(entrustment.ends_on, on))
