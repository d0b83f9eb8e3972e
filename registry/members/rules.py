"""Member rules that need no database: creation checks and status transitions (Art. 17, 18)."""

from __future__ import annotations

from typing import Any

import msgspec

from registry.errors import Conflict, FieldError, Forbidden, Invalid
from registry.members.model import SUBTYPES, Complaints, Member, MemberCreate, MemberPatch
from registry.records import MAX_TEXT
from registry.uscc import uscc_problem

# API.md §4: pending → active; active ↔ suspended; any → removed, which is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"active", "removed"}),
    "active": frozenset({"suspended", "removed"}),
    "suspended": frozenset({"active", "removed"}),
    "removed": frozenset(),
}

# Kinds that collect or have collection done for them: their complaint channels are public
# (Article 23), so they are admitted only with a process and a channel (API.md §10).
DISCLOSING_KINDS = frozenset({"lender", "debt_buyer", "collection_agency"})
NAME_MAX = 200


def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a member cannot go from {current} to {wanted}", code="bad_transition")


def check_admission(member: Member, wanted: str) -> None:
    """pending → active needs a complaints process and at least one channel to reach it."""
    if member.status != "pending" or wanted != "active" or member.kind not in DISCLOSING_KINDS:
        return
    if not complaints_complete(member.complaints):
        raise Conflict("complaints needs a process and a phone, email or address before "
                       "admission", code="disclosure_incomplete")


def complaints_complete(c: Complaints) -> bool:
    return bool(c.process) and any((c.phone, c.email, c.address))


def _name_problems(name: str) -> list[FieldError]:
    if not name.strip():
        return [FieldError("name", "required")]
    if len(name) > NAME_MAX:
        return [FieldError("name", f"at most {NAME_MAX} characters")]
    return []


def _subtype_problems(kind: str, subtype: str | None) -> list[FieldError]:
    allowed = SUBTYPES.get(kind)
    if subtype is None:
        return []
    if allowed is None:
        return [FieldError("subtype", f"a {kind} has no subtype")]
    if subtype not in allowed:
        return [FieldError("subtype", f"one of {', '.join(sorted(allowed))}")]
    return []


def _text_problems(group: str, fields: msgspec.Struct) -> list[FieldError]:
    problems = []
    for name in fields.__struct_fields__:
        value = getattr(fields, name)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            problems.append(FieldError(f"{group}.{name}", f"at most {MAX_TEXT} characters"))
    email = getattr(fields, "email", None)
    if isinstance(email, str) and email and not _looks_like_email(email):
        problems.append(FieldError(f"{group}.email", "not an email address"))
    return problems


def _looks_like_email(text: str) -> bool:
    # Enough to make a working mailto: link; whether mail arrives is the member's care.
    local, at, domain = text.partition("@")
    return bool(local and at and "." in domain and not any(c.isspace() for c in text)
                and "@" not in domain)


def check_new_member(data: MemberCreate) -> None:
    problems = _name_problems(data.name)
    if (why := uscc_problem(data.uscc)) is not None:
        problems.append(FieldError("uscc", why))
    problems += _subtype_problems(data.kind, data.subtype)
    problems += _text_problems("contact", data.contact)
    problems += _text_problems("complaints", data.complaints)
    kids = [k.get("kid") for k in data.keys]
    if len(kids) != len(set(map(str, kids))):
        problems.append(FieldError("keys", "each kid must be unique"))
    if problems:
        raise Invalid(problems)


def check_patch(member: Member, patch: MemberPatch, by_operator: bool) -> None:
    """What a PATCH may change, and by whom; `kind` and `uscc` never change (API.md §10)."""
    problems = [FieldError(field, "never changes") for field in ("kind", "uscc")
                if getattr(patch, field) is not msgspec.UNSET]
    if problems:
        raise Invalid(problems)
    operator_fields = [f for f in ("name", "subtype") if getattr(patch, f) is not msgspec.UNSET]
    if operator_fields and not by_operator:
        raise Forbidden(f"only an operator may change {' and '.join(operator_fields)}")
    if isinstance(patch.name, str):
        problems += _name_problems(patch.name)
    if not isinstance(patch.subtype, msgspec.UnsetType):
        problems += _subtype_problems(member.kind, patch.subtype)
    if not isinstance(patch.contact, msgspec.UnsetType):
        problems += _text_problems("contact", patch.contact)
    if not isinstance(patch.complaints, msgspec.UnsetType):
        problems += _text_problems("complaints", patch.complaints)
    if problems:
        raise Invalid(problems)


def patched(member: Member, patch: MemberPatch) -> tuple[dict[str, Any], list[str]]:
    """The disclosure after the patch (name, subtype, contact, complaints) and the dotted
    names of the fields whose value it changes, in a stable order."""
    before: dict[str, Any] = {
        "name": member.name, "subtype": member.subtype,
        "contact": msgspec.to_builtins(member.contact),
        "complaints": msgspec.to_builtins(member.complaints),
    }
    after = {**before, "contact": dict(before["contact"]),
             "complaints": dict(before["complaints"])}
    if isinstance(patch.name, str):
        after["name"] = patch.name.strip()
    if not isinstance(patch.subtype, msgspec.UnsetType):
        after["subtype"] = patch.subtype
    for group in ("contact", "complaints"):
        given = getattr(patch, group)
        if isinstance(given, msgspec.UnsetType):
            continue
        for name in given.__struct_fields__:
            value = getattr(given, name)
            if not isinstance(value, msgspec.UnsetType):
                after[group][name] = (value.strip() or None) if isinstance(value, str) else None
    changed = [k for k in ("name", "subtype") if after[k] != before[k]]
    for group in ("contact", "complaints"):
        changed += [f"{group}.{k}" for k in after[group]
                    if after[group].get(k) != before[group].get(k)]
    return after, changed
