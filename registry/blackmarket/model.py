"""Black-market intelligence as the API and the change log carry it (Art. 27, API.md §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Tlp = Literal["green", "amber", "red"]
# Anti-collection alliances, fake debt-relief ("债务优化") agencies, complaint mills.
GroupCategory = Literal[
    "anti_collection_alliance", "fake_debt_relief", "complaint_mill", "other"
]
IndicatorType = Literal[
    "phone", "wechat", "qq", "domain", "url", "app", "payment_account", "text_fingerprint"
]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class Indicator(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    type: IndicatorType
    value: str


class GroupCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    category: GroupCategory
    tlp: Tlp
    indicators: list[Indicator] = msgspec.field(default_factory=list)
    aliases: list[str] = msgspec.field(default_factory=list)
    description: str = ""


class IndicatorsAdd(msgspec.Struct, forbid_unknown_fields=True):
    indicators: list[Indicator]


class Group(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    name: str
    category: str
    tlp: str
    aliases: list[str]
    description: str
    indicators: list[Indicator]
    created_at: datetime
    # Members are competitors: who reported a group is shown to operators and itself only.
    reporter_id: str | None = None


class GroupPage(msgspec.Struct):
    items: list[Group]
    next_cursor: str | None


class SightingCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    type: IndicatorType
    value: str
    seen_at: AwareDatetime
    tlp: Tlp = "green"


class Sighting(msgspec.Struct, kw_only=True):
    id: str
    origin: str
    reporter_id: str
    type: str
    value: str
    seen_at: datetime
    tlp: str
    created_at: datetime


class MatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    indicators: list[Indicator]


class GroupRef(msgspec.Struct, frozen=True):
    id: str
    name: str
    category: str
    tlp: str


class Match(msgspec.Struct):
    type: str
    value: str
    groups: list[GroupRef]
    reporters: int


class MatchResult(msgspec.Struct):
    matches: list[Match]
