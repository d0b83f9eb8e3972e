"""Member rules that need no database: creation checks and status transitions (Art. 17, 18)."""

from __future__ import annotations

from registry.errors import Conflict, FieldError, Invalid
from registry.members.model import SUBTYPES, MemberCreate
from registry.records import MAX_TEXT
from registry.uscc import uscc_problem

# API.md §4: pending → active; active ↔ suspended; any → removed, which is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"active", "removed"}),
    "active": frozenset({"suspended", "removed"}),
    "suspended": frozenset({"active", "removed"}),
    "removed": frozenset(),
}



def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a member cannot go from {current} to {wanted}", code="bad_transition")


def check_new_member(data: MemberCreate) -> None:
    problems: list[FieldError] = []
    if not data.name.strip():
        problems.append(FieldError("name", "required"))
    elif len(data.name) > 200:
        problems.append(FieldError("name", "at most 200 characters"))
    if (why := uscc_problem(data.uscc)) is not None:
        problems.append(FieldError("uscc", why))
    allowed = SUBTYPES.get(data.kind)
    if data.subtype is not None:
        if allowed is None:
            problems.append(FieldError("subtype", f"a {data.kind} has no subtype"))
        elif data.subtype not in allowed:
            problems.append(FieldError("subtype", f"one of {', '.join(sorted(allowed))}"))
    for group, fields in (("contact", data.contact), ("complaints", data.complaints)):
        for name in fields.__struct_fields__:
            value = getattr(fields, name)
            if value is not None and len(value) > MAX_TEXT:
                problems.append(FieldError(f"{group}.{name}", f"at most {MAX_TEXT} characters"))
    kids = [k.get("kid") for k in data.keys]
    if len(kids) != len(set(map(str, kids))):
        problems.append(FieldError("keys", "each kid must be unique"))
    if problems:
        raise Invalid(problems)
