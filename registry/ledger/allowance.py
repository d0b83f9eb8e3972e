"""The allowance (API.md §12): may this number call this debtor now? The caller's verdict,
each principal's count and terms for the day, and the window, combined."""

from __future__ import annotations

from collections.abc import Mapping

from registry.ledger import rules
from registry.ledger.attribution import Attribution
from registry.ledger.model import Allowance, ContactSummary, PrincipalAllowance
from registry.ledger.store import DayCounts
from registry.trace.decision import Window

_NONE = DayCounts()


def allowance(
    who: Attribution, counts: Mapping[str, DayCounts], terms: Mapping[str, rules.Terms],
    at: int,
) -> Allowance:
    """`allowed` is false when the caller is not traceable at `at`, when a principal's
    window is closed, or when any principal has reached its limit."""
    principals = []
    for principal in who.principals:
        count = counts.get(principal, _NONE)
        own = terms.get(principal, rules.DEFAULT_TERMS)
        window_open = rules.in_hours(at, own.hours)
        principals.append(PrincipalAllowance(
            principal, count.connected, count.effective, own.limit, own.agreed,
            window_open and count.connected < own.limit, count.sms, window_open))
    # The window shown is the one every principal shares (an agreed one when all agree
    # on it), open only when it is open for each of them.
    shared = {terms.get(p, rules.DEFAULT_TERMS).hours for p in who.principals}
    hours = shared.pop() if len(shared) == 1 else rules.DEFAULT_HOURS
    window = rules.window_of(at, hours)
    window_open = all(p.window_open for p in principals) if principals else window.open
    if window.open != window_open:
        window = Window(window.tz, window.start, window.end, window_open)
    allowed = who.traceable and window_open and all(p.allowed for p in principals)
    return Allowance(allowed, who.traceable, who.reason, window, principals)


def summary(answer: Allowance) -> ContactSummary:
    """The principal nearest its limit stands for all of them in a trace answer."""
    if not answer.principals:
        return ContactSummary(0, rules.DAILY_LIMIT, False)
    binding = min(answer.principals, key=lambda p: p.limit - p.connected_today)
    return ContactSummary(binding.connected_today, binding.limit, answer.allowed)
