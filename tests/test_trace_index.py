"""The in-memory index on its own: change-log entries of any origin, in any order, give the
same answers; blocks match by longest prefix; tombstones and re-supplies (API.md §6)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from registry.resources.model import confirmation_id, filing_id
from registry.trace.answer import Answers
from registry.trace.decision import SHANGHAI, Supply
from registry.trace.index import TraceIndex
from registry.trace.model import TraceResults

AT = int(datetime(2026, 11, 28, 9, 30, tzinfo=SHANGHAI).timestamp())
NUMBER = "+8613800138000"


def member(kind: str, status: str = "active") -> dict[str, Any]:
    return {"kind": kind, "name": f"名{kind}", "uscc": "U", "status": status}


def resource(value: str = NUMBER, kind: str = "voice", assignee: str = "agency",
             **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "value": value, "supplier_id": "carrier", "assignee_id": assignee,
            "valid_from": "2026-01-01T00:00:00+08:00", "valid_to": None, **fields}


def story(rid: str = "r1", value: str = NUMBER) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(origin, type, id, data): a telecom node supplies, a finance node does the rest."""
    return [
        ("tel", "member", "carrier", member("carrier")),
        ("fin", "member", "agency", member("collection_agency")),
        ("fin", "member", "lender", member("lender")),
        ("tel", "resource", rid, resource(value)),
        ("fin", "resource_confirmation", confirmation_id(rid, "agency"),
         {"resource_id": rid, "kind": "voice", "value": value, "member_id": "agency"}),
        ("fin", "entrustment", "e1", {"lender_id": "lender", "agency_id": "agency",
                                      "starts_on": "2026-01-01", "ends_on": "2026-12-31",
                                      "parent_id": None, "ended_at": None}),
        ("fin", "resource_filing", filing_id(rid, "e1"),
         {"resource_id": rid, "kind": "voice", "value": value, "entrustment_id": "e1",
          "lender_id": "lender"}),
    ]


def supply_of(index: TraceIndex, text: str) -> Supply | None:
    return index.states[index.find(text)[2]]


def load(entries: Sequence[tuple[str, str, str, dict[str, Any] | None]]) -> TraceIndex:
    index = TraceIndex()
    seqs: dict[str, int] = {}
    for origin, type, record_id, data in entries:
        seqs[origin] = seqs.get(origin, 0) + 1
        index.apply(origin, seqs[origin], type, record_id, data)
    return index


def test_any_order_of_applying_gives_the_same_answer() -> None:
    for order in itertools.permutations(story()):
        index = load(list(order))
        verdict = index.verdict(index.find(NUMBER)[2], AT)
        assert verdict.reason is None, order
        assert [index.parties[p].id for p in verdict.principals] == ["lender"]


def test_entries_already_applied_are_skipped() -> None:
    index = load(story())
    index.apply("tel", 1, "member", "carrier", member("carrier", "suspended"))
    assert index.check(NUMBER, AT) is None
    index.apply("tel", 9, "member", "carrier", member("carrier", "suspended"))
    assert index.check(NUMBER, AT) == "supplier_inactive"
    assert index.seqs == {"tel": 9, "fin": 5}


def test_every_way_of_writing_the_number_finds_it() -> None:
    index = load(story())
    for text in ("13800138000", "+86 138-0013-8000", "008613800138000", "8613800138000"):
        value, kind, _, _ = index.find(text)
        assert (value, kind) == (NUMBER, "voice")
        assert supply_of(index, text) is not None


def test_blocks_match_by_longest_prefix_and_own_entries_win() -> None:
    entries = story()
    entries += [
        ("tel", "resource", "b1", resource("+86138", "voice_block", assignee="lender")),
        ("tel", "resource", "b2", resource("+861390013", "voice_block", assignee="agency")),
        ("tel", "resource", "b3", resource("+86139", "voice_block", assignee="lender")),
    ]
    index = load(entries)
    assert index.find(NUMBER)[3] is None
    assert index.find("+8613900138000")[3] == "+861390013"
    supply = supply_of(index, "+8613900138000")
    assert supply is not None
    assert index.parties[supply.user].id == "agency"
    assert index.find("+8613911112222")[3] == "+86139"
    assert index.find("+8613811112222")[3] == "+86138"
    assert supply_of(index, "+8613711112222") is None


def test_sms_codes_and_unreadable_values() -> None:
    index = load([*story(), ("tel", "resource", "s1", resource("106901234", "sms_code"))])
    assert index.find("106901234")[1] == "sms_code"
    assert supply_of(index, "106901234") is not None
    assert index.find("1069")[1] == "sms_code"
    assert index.find("not a number")[1] is None
    assert supply_of(index, "+" + "9" * 5000) is None


def test_tombstones_withdraw_records() -> None:
    index = load(story())
    index.apply("fin", 6, "resource_filing", filing_id("r1", "e1"), None)
    assert index.check(NUMBER, AT) == "no_principal"
    index.apply("fin", 7, "resource_confirmation", confirmation_id("r1", "agency"), None)
    assert index.check(NUMBER, AT) == "unconfirmed"
    index.apply("tel", 4, "resource", "r1", None)
    assert index.check(NUMBER, AT) == "unregistered"
    index.apply("fin", 8, "member", "agency", None)
    assert not index.parties[index.party("agency")].active


def test_a_changed_supply_keeps_its_confirmation_and_filings() -> None:
    index = load(story())
    index.apply("tel", 4, "resource", "r1", resource(valid_to="2026-06-01T00:00:00+08:00"))
    assert index.check(NUMBER, AT) == "expired"
    index.apply("tel", 5, "resource", "r1", resource(valid_to="2027-06-01T00:00:00+08:00"))
    assert index.check(NUMBER, AT) is None


def test_a_later_supply_of_an_expired_number_replaces_it() -> None:
    index = load(story())
    index.apply("tel", 4, "resource", "r1", resource(valid_to="2026-06-01T00:00:00+08:00"))
    index.apply("tel", 5, "resource", "r2", resource(valid_from="2026-07-01T00:00:00+08:00"))
    # The new supply is not confirmed: the old confirmation was of another resource.
    assert index.check(NUMBER, AT) == "unconfirmed"
    index.apply("tel", 6, "resource", "r1", resource(valid_to="2026-06-01T00:00:00+08:00"))
    assert index.check(NUMBER, AT) == "unconfirmed"
    assert len(index) == 1


def test_equal_states_are_shared() -> None:
    entries = []
    for n in range(100):
        rid = f"r{n}"
        value = f"+86138{n:08d}"
        entries += [("tel", "resource", rid, resource(value)),
                    ("fin", "resource_confirmation", confirmation_id(rid, "agency"),
                     {"resource_id": rid, "kind": "voice", "value": value,
                      "member_id": "agency"})]
    index = load(entries)
    assert len(index) == 100
    assert len(index.states) <= 4


def test_batch_json_is_exactly_the_encoded_answers() -> None:
    index = load([*story(), ("tel", "resource", "b1", resource("+86139", "voice_block"))])
    answers = Answers(index, "tel")
    values = [NUMBER, "13800138000", "+8613912345678", '"quoted" \\ value', "电话", "",
              "+" + "1" * 30, "13800138000"]
    expected = msgspec.json.encode(TraceResults(answers.trace(values, AT)))
    assert answers.trace_json(values, AT) == expected
    assert msgspec.json.decode(expected)["results"][4]["value"] == "电话"
    assert answers.trace_json([], AT) == b'{"results":[]}'


def test_all_e164_batches_and_single_answers_are_exactly_the_encoded_answers() -> None:
    index = load([*story(), ("tel", "resource", "b1", resource("+86139", "voice_block"))])
    answers = Answers(index, "tel")
    batches = [
        [NUMBER, "+8613912345678", "+8613800000001", NUMBER],  # all E.164: one scan
        [NUMBER, f"{NUMBER}\n{NUMBER}"],  # a separator inside a value
        [NUMBER, "+８６１３８００１３８０００", " " + NUMBER, NUMBER + "_1"],
        [NUMBER, "+" + "1" * 19, "+"],
    ]
    for values in batches:
        expected = msgspec.json.encode(TraceResults(answers.trace(values, AT)))
        assert answers.trace_json(values, AT) == expected, values
        for value in values:
            one = msgspec.json.encode(answers.trace([value], AT)[0])
            assert answers.trace_one_json(value, AT) == one, value
