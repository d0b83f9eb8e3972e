"""Entrustments as the API and the change log carry them (API.md §5, guideline Art. 17)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class EntrustmentCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    agency_id: str
    starts_on: date
    ends_on: date
    subcontracting_allowed: bool = False
    parent_id: str | None = None


class EntrustmentEnd(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class EntrustmentRecord(msgspec.Struct, kw_only=True):
    """An entrustment as the change log carries it (its origin is the entry's own)."""

    id: str
    lender_id: str
    agency_id: str
    starts_on: date
    ends_on: date
    subcontracting_allowed: bool
    parent_id: str | None
    ended: bool
    ended_at: datetime | None
    end_reason: str | None
    created_at: datetime


class Entrustment(EntrustmentRecord, kw_only=True):
    """An entrustment as the API shows it, with the node it belongs to."""

    origin: str


class EntrustmentPage(msgspec.Struct):
    items: list[Entrustment]
    next_cursor: str | None


class PublicAgency(msgspec.Struct):
    """An agency a lender currently entrusts, with where to complain (Art. 13, 23)."""

    id: str
    name: str
    uscc: str
    starts_on: date
    ends_on: date
    complaints: dict[str, str | None]


class PublicAgencies(msgspec.Struct):
    lender: dict[str, str]
    agencies: list[PublicAgency]
