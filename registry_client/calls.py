"""Every endpoint the client knows, as a `Call`: method, encoded target, body, answer type.

A call is plain data, built here once and sent by either client (`Client.send`,
`await AsyncClient.send`), so the sync and async clients cannot disagree on a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import msgspec

from registry_client import models
from registry_client.paths import QueryValue, path_of, target

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    target: str
    body: bytes
    answer: type[T]
    public: bool = False  # sent without a token (API.md §9 and the node's own endpoints)


def _call(method: str, path: str, answer: type[T], body: Any = None,
          query: dict[str, QueryValue] | None = None) -> Call[T]:
    raw = b"" if body is None else msgspec.json.encode(body)
    return Call(method, target(path, query), raw, answer)


def _time(moment: datetime | str | None) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def raw(method: str, request_target: str, body: bytes = b"", *, public: bool = False
        ) -> Call[Any]:
    """Any endpoint, the answer left as decoded JSON (what `registry call` sends);
    `request_target` must already be encoded (paths.normalise makes it so)."""
    return Call(method.upper(), request_target, body, object, public)


def node_info() -> Call[models.NodeInfo]:
    return Call("GET", "/.well-known/registry-node", b"", models.NodeInfo, public=True)


# Members (API.md §4)

def add_member(member: models.MemberCreate) -> Call[models.Member]:
    return _call("POST", "/v1/members", models.Member, member)


def member(member_id: str) -> Call[models.Member]:
    return _call("GET", path_of("v1", "members", member_id), models.Member)


def members(*, kind: str | None = None, status: str | None = None, q: str | None = None,
            cursor: str | None = None, limit: int | None = None) -> Call[models.MemberPage]:
    query: dict[str, QueryValue] = {"kind": kind, "status": status, "q": q,
                                    "cursor": cursor, "limit": limit}
    return _call("GET", "/v1/members", models.MemberPage, query=query)


def set_member_status(member_id: str, status: str, reason: str) -> Call[models.Member]:
    return _call("POST", path_of("v1", "members", member_id, "status"), models.Member,
                 {"status": status, "reason": reason})


def add_key(member_id: str, jwk: dict[str, Any]) -> Call[Any]:
    return _call("POST", path_of("v1", "members", member_id, "keys"), object, jwk)


def revoke_key(member_id: str, kid: str) -> Call[Any]:
    return _call("DELETE", path_of("v1", "members", member_id, "keys", kid), object)


# Resources (API.md §6)

def supply(resource: models.ResourceSupply) -> Call[models.Resource]:
    return _call("POST", "/v1/resources", models.Resource, resource)


def supply_batch(items: list[models.ResourceSupply]) -> Call[models.Ids]:
    return _call("POST", "/v1/resources/batch", models.Ids, {"items": items})


def resource(resource_id: str) -> Call[models.Resource]:
    return _call("GET", path_of("v1", "resources", resource_id), models.Resource)


def confirm(resource_id: str) -> Call[models.Resource]:
    return _call("POST", path_of("v1", "resources", resource_id, "confirm"), models.Resource)


def confirm_batch(ids: list[str]) -> Call[models.Ids]:
    return _call("POST", "/v1/resources/confirm", models.Ids, {"ids": ids})


def file_resource(resource_id: str, entrustment_id: str) -> Call[models.Filing]:
    return _call("POST", path_of("v1", "resources", resource_id, "filings"), models.Filing,
                 {"entrustment_id": entrustment_id})


# Trace (API.md §6)

def trace(value: str, at: datetime | str | None = None) -> Call[models.TraceResult]:
    return _call("GET", path_of("v1", "trace", value), models.TraceResult,
                 query={"at": _time(at)})


def trace_batch(values: list[str], at: datetime | str | None = None
                ) -> Call[models.TraceResults]:
    body: dict[str, Any] = {"values": values}
    if at is not None:
        body["at"] = _time(at)
    return _call("POST", "/v1/trace", models.TraceResults, body)


# Collector filings and checks (API.md §7)

def file_collector(filing: models.CollectorFilingCreate) -> Call[models.CollectorFiling]:
    return _call("POST", "/v1/collector-filings", models.CollectorFiling, filing)


def collector_filing(filing_id: str) -> Call[models.CollectorFiling]:
    return _call("GET", path_of("v1", "collector-filings", filing_id), models.CollectorFiling)


def collector_filings(*, status: str | None = None, cursor: str | None = None,
                      limit: int | None = None) -> Call[models.FilingPage]:
    return _call("GET", "/v1/collector-filings", models.FilingPage,
                 query={"status": status, "cursor": cursor, "limit": limit})


def review_filing(filing_id: str, decision: Literal["publish", "reject"], reason: str
                  ) -> Call[models.CollectorFiling]:
    return _call("POST", path_of("v1", "collector-filings", filing_id, "review"),
                 models.CollectorFiling, {"decision": decision, "reason": reason})


def check_collector(id_number: str, id_type: str = "prc_id") -> Call[models.CheckResult]:
    return _call("POST", "/v1/collector-checks", models.CheckResult,
                 {"id_type": id_type, "id_number": id_number})
