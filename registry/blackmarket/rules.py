"""Black-market rules that need no database: TLP visibility and what a group must hold."""

from __future__ import annotations

from registry.actors import Actor
from registry.blackmarket.model import GroupCreate
from registry.errors import FieldError, Invalid

MAX_INDICATORS = 1000
MAX_ALIASES = 50

# API.md §7: green to all members, amber to operators and the reporter, red to operators.
# The same predicate in SQL (x is the row alias; $1 is_operator, $2 the caller's id).
VISIBLE_SQL = "(x.tlp = 'green' OR $1::boolean OR (x.tlp = 'amber' AND x.reporter_id = $2))"


def visible(tlp: str, reporter_id: str, actor: Actor) -> bool:
    return tlp == "green" or actor.is_operator or (tlp == "amber" and reporter_id == actor.id)


def check_group(data: GroupCreate) -> tuple[str, list[str], str]:
    """The group's name, aliases and description, trimmed; Invalid names each bad field."""
    problems: list[FieldError] = []
    name = data.name.strip()
    if not name:
        problems.append(FieldError("name", "required"))
    elif len(name) > 200:
        problems.append(FieldError("name", "at most 200 characters"))
    aliases = list(dict.fromkeys(a.strip() for a in data.aliases if a.strip()))
    if len(aliases) > MAX_ALIASES or any(len(a) > 200 for a in aliases):
        problems.append(FieldError("aliases", f"at most {MAX_ALIASES}, each 200 characters"))
    if len(data.indicators) > MAX_INDICATORS:
        problems.append(FieldError("indicators", f"at most {MAX_INDICATORS}"))
    description = data.description.strip()
    if len(description) > 4000:
        problems.append(FieldError("description", "at most 4000 characters"))
    if problems:
        raise Invalid(problems)
    return name, aliases, description
