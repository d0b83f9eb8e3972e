"""Complaint rules without a database: who a complaint goes to (from the trace decision's
answer, never a second copy of its rules), its deadline, and what a report may say."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime, timedelta

from registry.complaints.model import OPERATORS, ComplaintRoute
from registry.errors import Invalid
from registry.phone import NotANumber, e164, sms_code
from registry.trace.decision import SHANGHAI
from registry.trace.model import TraceResult

# Clocks differ a little; a complaint received a few minutes "ahead" of ours is not an error.
CLOCK_SKEW = timedelta(minutes=5)
# Older than this, a call can no longer be traced to who used the number then.
OLDEST = timedelta(days=365)


def routes_of(trace: TraceResult) -> list[ComplaintRoute]:
    """A traceable number's user and principals (Art. 22: a complaint about an agency is
    its lender's too); an untraceable one goes to the operators (Art. 27)."""
    if not trace.traceable or trace.user is None:
        return [ComplaintRoute(id=OPERATORS, name=OPERATORS, role="operators")]
    routes = [ComplaintRoute(id=trace.user.id, name=trace.user.name, role="user")]
    routes += [ComplaintRoute(id=p.id, name=p.name, role="principal")
               for p in trace.principals if p.id != trace.user.id]
    return routes


def respond_by(received_at: datetime, within_hours: float) -> datetime:
    return received_at + timedelta(hours=within_hours)


def number_of(text: str, field: str = "number") -> str:
    """The calling number as the whitelist writes it: E.164, or an SMS port code."""
    try:
        return e164(text, strict=False)
    except NotANumber:
        pass
    try:
        return sms_code(text)
    except NotANumber as exc:
        raise Invalid.field(field, "not a phone number or an SMS port code") from exc


def check_received(received_at: datetime, now: datetime, field: str = "received_at") -> None:
    if received_at > now + CLOCK_SKEW:
        raise Invalid.field(field, "in the future")
    if received_at < now - OLDEST:
        raise Invalid.field(field, f"more than {OLDEST.days} days ago")


def check_text(field: str, text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid.field(field, "required")
    return text


def public_digest(number: str, category: str, description: str, at: datetime) -> str:
    """What makes two public reports the same: the number, the category, the text (folded:
    case, width and white space do not count, as Chinese is written without spaces) and
    the Beijing day of the call."""
    folded = "".join(unicodedata.normalize("NFKC", description).split()).casefold()
    day = at.astimezone(SHANGHAI).date().isoformat()
    return hashlib.sha256("\x1f".join((number, category, day, folded)).encode()).hexdigest()
