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
from registry.complaints import store as complaints
from registry.complaints.model import ComplaintRecord, ComplaintResponse
from registry.entrustments import store as entrustments
from registry.entrustments import supervision
from registry.entrustments.model import (
    Commitments,
    EntrustmentRecord,
    Evaluation,
    RectificationRecord,
)
from registry.ledger import store as ledger
from registry.ledger.model import AgreementRecord, ContactReport
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
    # Supervision of an agency (API.md §11): the agency's commitments, the lender's
    # evaluations and rectifications. Every peer holding the entrustment needs them to
    # answer it; in the feed, a member gets those that name it (the API shows more).
    RecordType(supervision.COMMITMENTS, "entrustment_commitments", Commitments,
               supervision.apply_remote_commitments, peers=Peers.DEFAULT,
               members=parties("agency_id"), trace=False, author="agency_id"),
    RecordType(supervision.EVALUATION, "agency_evaluations", Evaluation,
               supervision.apply_remote_evaluation, peers=Peers.DEFAULT,
               members=parties("lender_id"), trace=False, author="lender_id"),
    RecordType(supervision.RECTIFICATION, "rectifications", RectificationRecord,
               supervision.apply_remote_rectification, peers=Peers.DEFAULT,
               members=parties("lender_id"), trace=False, author="lender_id"),
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
    # The contact ledger (API.md §12) counts calls across nodes, so every peer receives
    # it; its records hold debtors' keyed hashes, which no endpoint shows: no member.
    RecordType(ledger.REPORT, "contact_reports", ContactReport, ledger.apply_remote_report,
               peers=Peers.DEFAULT, members=NO_MEMBER, trace=False, author="reporter_id",
               apply_batch=ledger.apply_remote_reports),
    RecordType(ledger.AGREEMENT, "contact_agreements", AgreementRecord,
               ledger.apply_remote_agreement, peers=Peers.DEFAULT, members=NO_MEMBER,
               trace=False, author="lender_id"),
    # A complaint: the members it was routed to read it through /v1/complaints, which
    # hides who filed it; the logged record names the filer, so the feed gives it to the
    # filer alone. Summaries are free text: peers receive complaints only on request.
    RecordType(complaints.RECORD_TYPE, "complaints", ComplaintRecord, complaints.apply_remote,
               peers=Peers.ON_REQUEST, members=parties("filer_id"), trace=False,
               author="filer_id"),
    # A response is a record of the responder's node, referencing the complaint.
    RecordType(complaints.RESPONSE_TYPE, "complaint_responses", ComplaintResponse,
               complaints.apply_remote_response, peers=Peers.ON_REQUEST,
               members=parties("responder_id"), trace=False, author="responder_id"),
)

BY_NAME: dict[str, RecordType[Any]] = {rt.name: rt for rt in TABLE}
NAMES = frozenset(BY_NAME)
# What every peer receives with data unless told otherwise (`registry peer add`).
DEFAULT_PEER_TYPES = frozenset(rt.name for rt in TABLE if rt.peers is Peers.DEFAULT)
# What the trace index reads; also what an active carrier's mirror receives in full.
TRACE_TYPES = frozenset(rt.name for rt in TABLE if rt.trace)
