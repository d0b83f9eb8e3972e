"""Trace questions and answers as the API carries them (API.md §6)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from registry.trace.decision import Window


class TraceRequest(msgspec.Struct, forbid_unknown_fields=True):
    values: list[str]
    at: datetime | None = None


class SupplierRef(msgspec.Struct, frozen=True):
    id: str
    name: str
    uscc: str


class UserRef(msgspec.Struct, frozen=True):
    id: str
    name: str
    kind: str


class PrincipalRef(msgspec.Struct, frozen=True):
    id: str
    name: str


class Checkpoint(msgspec.Struct, frozen=True):
    node: str
    seq: int


class TraceResult(msgspec.Struct, frozen=True):
    value: str
    kind: str | None
    traceable: bool
    reason: str | None
    supplier: SupplierRef | None
    user: UserRef | None
    principals: tuple[PrincipalRef, ...]
    window: Window
    checkpoint: Checkpoint
    # The number block a voice number matched, when it has no entry of its own.
    block: str | None = None


class TraceResults(msgspec.Struct):
    results: list[TraceResult]


class PublicCheck(msgspec.Struct):
    registered: bool
    user: str | None
    principals: list[str]
