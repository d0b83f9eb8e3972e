"""THE table of record types: every type this node logs, federates and serves, once.

Each line is a `RecordType` (registry/records.py explains every field). The replica rule
(registry/replicas.py), the peers' default policy (sync/peers.py), the members' feed
policy (sync/feed.py) and the types the trace index reads (registry/trace/feed.py) are
all derived from it. To add a type, add its line here; tests/test_record_types.py fails
until the tests know how to make a record of it.
"""

from __future__ import annotations

from typing import Any

from registry.blackmarket import store as blackmarket
from registry.blackmarket.model import Group, Sighting
from registry.collectors import store as collectors
from registry.collectors.model import CollectorFilingRecord
from registry.entrustments import store as entrustments
from registry.entrustments.model import EntrustmentRecord
from registry.members import store as members
from registry.members.model import MemberRecord
from registry.records import EVERY_MEMBER, NO_MEMBER, Peers, RecordType, parties
from registry.resources import replicas as resources
from registry.resources.model import (
    CONFIRMATION,
    FILING,
    RESOURCE,
    ConfirmationRecord,
    FilingRecord,
    ResourceRecord,
)
from registry.risk import store as risk
from registry.risk.model import RiskEvent

TABLE: tuple[RecordType[Any], ...] = (
    # Any member reads any member (API.md §4); the status history goes with the member.
    RecordType("member", "members", MemberRecord, members.apply_remote,
               peers=Peers.DEFAULT, members=EVERY_MEMBER, trace=True, author=None,
               dependents=(("member_status_history", "member_id"),)),
    # Its lender and its agency read an entrustment (API.md §5), and carriers' mirrors.
    RecordType("entrustment", "entrustments", EntrustmentRecord, entrustments.apply_remote,
               peers=Peers.DEFAULT, members=parties("lender_id", "agency_id"), trace=True,
               author="lender_id"),
    # A resource is read by its supplier and its user (and the lenders that filed it, on
    # the regular endpoint: the feed leaves them out rather than look them up).
    RecordType(RESOURCE, "resources", ResourceRecord, resources.apply_remote_resource,
               peers=Peers.DEFAULT, members=parties("supplier_id", "assignee_id"),
               trace=True, author="supplier_id",
               apply_batch=resources.apply_remote_resources),
    RecordType(CONFIRMATION, "resource_confirmations", ConfirmationRecord,
               resources.apply_remote_confirmation, peers=Peers.DEFAULT,
               members=parties("member_id"), trace=True, author="member_id"),
    RecordType(FILING, "resource_filings", FilingRecord, resources.apply_remote_filing,
               peers=Peers.DEFAULT, members=parties("lender_id"), trace=True,
               author="lender_id"),
    # The filer and operators read a collector filing (API.md §7), but the logged record
    # also holds the keyed hash of the id number, which no endpoint shows: no member.
    RecordType(collectors.RECORD_TYPE, "collector_filings", CollectorFilingRecord,
               collectors.apply_remote, peers=Peers.ON_REQUEST, members=NO_MEMBER,
               trace=False, author="filer_id"),
    # Who reported a group or a sighting is shown to itself and operators only, and the
    # logged record names the reporter: so even a green one reaches its reporter alone.
    RecordType(blackmarket.GROUP, "blackmarket_groups", Group, blackmarket.apply_remote_group,
               peers=Peers.ON_REQUEST, members=parties("reporter_id"), trace=False,
               author="reporter_id", dependents=(("blackmarket_indicators", "group_id"),)),
    RecordType(blackmarket.SIGHTING, "blackmarket_sightings", Sighting,
               blackmarket.apply_remote_sighting, peers=Peers.ON_REQUEST,
               members=parties("reporter_id"), trace=False, author="reporter_id"),
    # A risk event: its reporter and operators (API.md §7).
    RecordType(risk.RECORD_TYPE, "risk_events", RiskEvent, risk.apply_remote,
               peers=Peers.ON_REQUEST, members=parties("reporter_id"), trace=False,
               author="reporter_id"),
)

BY_NAME: dict[str, RecordType[Any]] = {rt.name: rt for rt in TABLE}
NAMES = frozenset(BY_NAME)
# What every peer receives with data unless told otherwise (`registry peer add`).
DEFAULT_PEER_TYPES = frozenset(rt.name for rt in TABLE if rt.peers is Peers.DEFAULT)
# What the trace index reads; also what an active carrier's mirror receives in full.
TRACE_TYPES = frozenset(rt.name for rt in TABLE if rt.trace)
