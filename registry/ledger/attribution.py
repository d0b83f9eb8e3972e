"""Whose call was it: the trace decision (registry/trace/decision.py) at the call's start,
read from the worker's trace index, the same function a trace answer uses."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from registry.errors import FieldError, Invalid
from registry.trace.decision import FOREVER, NOBODY, Supply, Term, decide
from registry.trace.index import TraceIndex


class Attribution(msgspec.Struct, frozen=True):
    caller: str  # as the registry keys it (E.164, or an SMS code)
    traceable: bool
    reason: str | None
    user_id: str | None  # the member using the number, whatever the verdict
    principals: tuple[str, ...]


def attribute(index: TraceIndex, caller: str, at: int) -> Attribution | None:
    """The caller's verdict at `at`; None when `caller` is no number or code at all."""
    return _attribute(index, caller, at)[0]


def _attribute(index: TraceIndex, caller: str, at: int
               ) -> tuple[Attribution | None, Supply | None]:
    value, kind, state, _ = index.find(caller)
    if kind is None:
        return None, None
    supply = index.states[state]
    verdict = decide(supply, at, index.parties, index.terms)
    parties = index.parties
    return Attribution(
        value, verdict.reason is None, verdict.reason,
        None if supply is None else parties[supply.user].id,
        tuple(parties[p].id for p in verdict.principals),
    ), supply


def _span(supply: Supply, at: int, terms: Sequence[Term]) -> tuple[int, int]:
    """The times around `at` within which decide(supply, ·) cannot change: it reads the
    time only by comparing it with the supply's validity and its filings' terms."""
    edges = [supply.valid_from, supply.valid_to]
    for index in supply.filings:
        term = terms[index]
        edges += (term.start, term.end)
        if term.parent != NOBODY:
            edges += (terms[term.parent].start, terms[term.parent].end)
    return (max((e for e in edges if e <= at), default=-FOREVER),
            min((e for e in edges if e > at), default=FOREVER))


def attribute_all(index: TraceIndex, callers: Sequence[tuple[str, int]]) -> list[Attribution]:
    """attribute() for each (caller, at); Invalid naming every unreadable caller's item.

    Calls from one number within a span where its decision cannot change share it: a
    batch of a day's calls costs a decision per number, not per call.
    """
    found: list[Attribution] = []
    errors: list[FieldError] = []
    known: dict[str, tuple[int, int, Attribution]] = {}
    for i, (caller, at) in enumerate(callers):
        span = known.get(caller)
        if span is not None and span[0] <= at < span[1]:
            found.append(span[2])
            continue
        made, supply = _attribute(index, caller, at)
        if made is None:
            errors.append(FieldError(f"items[{i}].caller", "not a phone number or SMS code"))
            continue
        found.append(made)
        if supply is not None:
            known[caller] = (*_span(supply, at, index.terms), made)
    if errors:
        raise Invalid(errors[:100], f"{len(errors)} callers are not readable")
    return found
