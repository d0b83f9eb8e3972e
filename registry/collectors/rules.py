"""Collector-filing rules that need no database: what a filing must hold, how it moves."""

from __future__ import annotations

import re
from datetime import date

from registry.collectors import prc_id
from registry.collectors.model import VIOLATIONS, CollectorFilingCreate
from registry.errors import Conflict, FieldError, Invalid

MAX_NAME = 50
MAX_SUMMARY = 2000
MAX_EVIDENCE = 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# submitted -> published | rejected (operator review); published -> revoked (appeal upheld).
# "expired" is never stored: it is a published filing past its expires_at.
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"published", "rejected"}),
    "published": frozenset({"revoked"}),
    "rejected": frozenset(),
    "revoked": frozenset(),
    "expired": frozenset(),
}


def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a filing cannot go from {current} to {wanted}", code="bad_transition")


def check_new_filing(data: CollectorFilingCreate, today: date) -> tuple[str, list[str]]:
    """Every problem with a filing at once; returns the normalised id number and digests.

    The summary must not repeat the id number or the full name: it is kept and shown as
    written, and only masked forms of the subject may be kept.
    """
    problems: list[FieldError] = []
    number = "".join(data.id_number.split()).upper()
    if (why := prc_id.problem(number)) is not None:
        problems.append(FieldError("id_number", why))
    name = data.name.strip()
    if not name:
        problems.append(FieldError("name", "required"))
    elif len(name) > MAX_NAME:
        problems.append(FieldError("name", f"at most {MAX_NAME} characters"))
    if not data.violations:
        problems.append(FieldError("violations", "at least one violation"))
    for i, code in enumerate(data.violations):
        if code not in VIOLATIONS:
            problems.append(FieldError(f"violations[{i}]", f"one of {', '.join(VIOLATIONS)}"))
    if len(set(data.violations)) != len(data.violations):
        problems.append(FieldError("violations", "each violation once"))
    if data.incident_on > today:
        problems.append(FieldError("incident_on", "in the future"))
    if data.dismissed_on > today:
        problems.append(FieldError("dismissed_on", "in the future"))
    if data.dismissed_on < data.incident_on:
        problems.append(FieldError("dismissed_on", "before incident_on"))
    summary = data.summary.strip()
    if not summary:
        problems.append(FieldError("summary", "required"))
    elif len(summary) > MAX_SUMMARY:
        problems.append(FieldError("summary", f"at most {MAX_SUMMARY} characters"))
    elif (len(number) > 6 and number in summary.upper()) or (len(name) > 1 and name in summary):
        problems.append(FieldError(
            "summary", "must not repeat the collector's id number or full name"))
    digests = [d.strip().lower() for d in data.evidence_sha256]
    if len(digests) > MAX_EVIDENCE:
        problems.append(FieldError("evidence_sha256", f"at most {MAX_EVIDENCE} digests"))
    for i, digest in enumerate(digests):
        if not _SHA256.match(digest):
            problems.append(FieldError(f"evidence_sha256[{i}]", "64 hex characters"))
    if problems:
        raise Invalid(problems)
    return number, list(dict.fromkeys(digests))
