"""Entrustment rules that need no database: dates, subcontracts, ending (Art. 17), and the
supervision calendar: commitments, yearly evaluations, rectification deadlines (Art. 18)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from registry.entrustments.model import (
    EntrustmentCreate,
    EntrustmentRecord,
    EvaluationCreate,
    RectificationCreate,
)
from registry.errors import Conflict, FieldError, Forbidden, Invalid
from registry.trace.decision import SHANGHAI

AGENCY_KIND = "collection_agency"
ALL_COMMITMENTS = frozenset({"no_subcontracting", "confidentiality", "accept_supervision",
                             "accept_regulators"})
# Article 18(二): the yearly evaluation falls no later than 30 days before the end.
LAST_EVALUATION_BEFORE_END = timedelta(days=30)


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


def check_subcontract(
    parent: EntrustmentRecord, lender_id: str, data: EntrustmentCreate
) -> None:
    """A subcontract hangs under the caller's own entrustment that allows it, one level deep,
    and goes to another agency than the parent's."""
    if parent.lender_id != lender_id:
        raise Forbidden("the parent entrustment is not yours")
    if parent.parent_id is not None:
        raise Conflict("a subcontract cannot be subcontracted again", code="resubcontracting")
    if parent.agency_id == data.agency_id:
        raise Conflict("a subcontract goes to another agency than its parent's",
                       code="subcontract_to_same_agency")
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


def end_on(entrustment: EntrustmentRecord, on: date) -> date:
    """The day an entrustment ended `on` ends: today, but never before it started."""
    return max(entrustment.starts_on, min(entrustment.ends_on, on))


def check_commitments(given: list[str]) -> None:
    """All four commitments of Article 17(二), each once."""
    if len(given) != len(ALL_COMMITMENTS) or set(given) != ALL_COMMITMENTS:
        raise Invalid.field(
            "commitments", f"all four, each once: {', '.join(sorted(ALL_COMMITMENTS))}")


def check_in_force(entrustment: EntrustmentRecord) -> None:
    if entrustment.ended:
        raise Conflict("the entrustment has ended", code="entrustment_ended")


def check_evaluation(entrustment: EntrustmentRecord, data: EvaluationCreate, on: date) -> None:
    """An evaluation covers a period of the entrustment that is over."""
    if not data.summary.strip():
        raise Invalid.field("summary", "required")
    if data.period_end < entrustment.starts_on:
        raise Invalid.field("period_end", "before the entrustment starts")
    if data.period_end > min(on, entrustment.ends_on):
        raise Invalid.field("period_end", "after today or after the entrustment ends")


def check_rectification(data: RectificationCreate, on: date) -> None:
    if not data.summary.strip():
        raise Invalid.field("summary", "required")
    if data.due_on < on:
        raise Invalid.field("due_on", "in the past")


# The calendar is total: dates at either end of Python's (which the API takes, and a peer
# may send) are clamped, never an error in an answer or a reminder.
def _a_year_after(day: date) -> date:
    if day.year == date.max.year:
        return date.max
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _before(day: date, delta: timedelta) -> date:
    return day - delta if day - date.min >= delta else date.min


def evaluation_due_on(
    entrustment: EntrustmentRecord, last_period_end: date | None
) -> date | None:
    """A year after the last evaluated period ends (after `starts_on` when there is none),
    and no later than 30 days before `ends_on`; None once that last evaluation is made."""
    latest = _before(entrustment.ends_on, LAST_EVALUATION_BEFORE_END)
    if last_period_end is not None and last_period_end >= latest:
        return None
    anchor = last_period_end or entrustment.starts_on
    return max(entrustment.starts_on, min(_a_year_after(anchor), latest))


def in_force(entrustment: EntrustmentRecord, on: date) -> bool:
    return not entrustment.ended and entrustment.starts_on <= on <= entrustment.ends_on


def evaluation_overdue(entrustment: EntrustmentRecord, due_on: date | None, on: date) -> bool:
    """Past its due date while the entrustment is in force (the due day itself is on time)."""
    return due_on is not None and in_force(entrustment, on) and on > due_on


def evaluation_falling_due(
    entrustment: EntrustmentRecord, due_on: date | None, on: date, notice_days: int
) -> bool:
    """From `notice_days` before its due date on (and past it) while the entrustment is in
    force: when the lender is reminded of the evaluation (API.md §14, `evaluation.due`)."""
    return (due_on is not None and in_force(entrustment, on)
            and (due_on - on).days <= notice_days)


def rectification_overdue(status: str, due_on: date, on: date) -> bool:
    return status == "open" and on > due_on
