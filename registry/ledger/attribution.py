"""Whose call was it: the trace decision (registry/trace/decision.py) at the call's start,
read from the worker's trace index, the same function a trace answer uses."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from registry.errors import FieldError, Invalid
from registry.trace.decision import decide
from registry.trace.index import TraceIndex


class Attribution(msgspec.Struct, frozen=True):
    caller: str  # as the registry keys it (E.164, or an SMS code)
    traceable: bool
    reason: str | None
    user_id: str | None  # the member using the number, whatever the verdict
    principals: tuple[str, ...]


def attribute(index: TraceIndex, caller: str, at: int) -> Attribution | None:
    """The caller's verdict at `at`; None when `caller` is no number or code at all."""
    value, kind, state, _ = index.find(caller)
    if kind is None:
        return None
    supply = index.states[state]
    verdict = decide(supply, at, index.parties, index.terms)
    parties = index.parties
    return Attribution(
        value, verdict.reason is None, verdict.reason,
        None if supply is None else parties[supply.user].id,
        tuple(parties[p].id for p in verdict.principals),
    )


def attribute_all(index: TraceIndex, callers: Sequence[tuple[str, int]]) -> list[Attribution]:
    """attribute() for each (caller, at); Invalid naming every unreadable caller's item."""
    found: list[Attribution] = []
    errors: list[FieldError] = []
    for i, (caller, at) in enumerate(callers):
        made = attribute(index, caller, at)
        if made is None:
            errors.append(FieldError(f"items[{i}].caller", "not a phone number or SMS code"))
        else:
            found.append(made)
    if errors:
        raise Invalid(errors[:100], f"{len(errors)} callers are not readable")
    return found
