"""Typed answers and requests: the node's own structs, so client and server cannot drift.

Decoding ignores fields a newer node adds (the contract adds, never breaks).
"""

from __future__ import annotations

from typing import Any

import msgspec

from registry.collectors.model import (
    CheckResult,
    CollectorCheck,
    CollectorFiling,
    CollectorFilingCreate,
    FilingPage,
    ListedFiling,
    Review,
    Revocation,
    Subject,
)
from registry.members.model import (
    Complaints,
    Contact,
    Member,
    MemberCreate,
    MemberPage,
    StatusChange,
    StatusEvent,
)
from registry.resources.model import Filing, Ids, Resource, ResourceSupply
from registry.trace.decision import Window
from registry.trace.model import (
    Checkpoint,
    PrincipalRef,
    SupplierRef,
    TraceResult,
    TraceResults,
    UserRef,
)


class NodeInfo(msgspec.Struct):
    """What a node publishes at /.well-known/registry-node (API.md §3)."""

    node_id: str
    keys: list[dict[str, Any]]
    api: str = "v1"


__all__ = [
    "CheckResult", "Checkpoint", "CollectorCheck", "CollectorFiling", "CollectorFilingCreate",
    "Complaints", "Contact", "Filing", "FilingPage", "Ids", "ListedFiling", "Member",
    "MemberCreate", "MemberPage", "NodeInfo", "PrincipalRef", "Resource", "ResourceSupply",
    "Review", "Revocation", "StatusChange", "StatusEvent", "Subject", "SupplierRef",
    "TraceResult", "TraceResults", "UserRef", "Window",
]
