"""The shared trace index: an index standing on a snapshot (written, mapped, checked) and
then given the rest of the entries answers exactly as an index given every entry, for
every combination of failing links, in many orders, cut at many points; a snapshot that
is not whole as written is never read (docs/trace-snapshot.md)."""

from __future__ import annotations

import hashlib
import itertools
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from registry.resources.model import confirmation_id, filing_id
from registry.trace import snapshot
from registry.trace.answer import Answers
from registry.trace.decision import REASONS
from registry.trace.index import TraceIndex
from tests.test_trace_index import AT, member, resource

Entry = tuple[str, str, str, dict[str, Any] | None]
YEAR = 365 * 86400
MOMENTS = (AT, AT - YEAR, AT + YEAR, AT + 2 * YEAR)


def number(case: int) -> str:
    return f"+86138001{case:05d}"


def exhaustive() -> list[Entry]:
    """Per combination of failing links (tests/test_trace_decision.py), a number whose
    records break exactly those links; plus blocks, SMS codes, tombstones, re-supplies."""
    entries: list[Entry] = [
        ("tel", "member", "carrier", member("carrier")),
        ("tel", "member", "carrier_off", member("carrier", "suspended")),
        ("fin", "member", "agency", member("collection_agency")),
        ("fin", "member", "agency_off", member("collection_agency", "suspended")),
        ("fin", "member", "lender", member("lender")),
    ]
    for agency in ("agency", "agency_off"):
        entries.append(("fin", "entrustment", f"e_{agency}", {
            "lender_id": "lender", "agency_id": agency, "starts_on": "2026-01-01",
            "ends_on": "2026-12-31", "parent_id": None, "ended_at": None}))
    cases = itertools.chain.from_iterable(
        itertools.combinations(REASONS, size) for size in range(len(REASONS) + 1))
    for case, failing in enumerate(cases):
        if "unregistered" in failing:
            continue
        rid, value = f"r{case}", number(case)
        user = "agency_off" if "user_inactive" in failing else "agency"
        entries.append(("tel", "resource", rid, {
            **resource(value, assignee=user),
            "supplier_id": "carrier_off" if "supplier_inactive" in failing else "carrier",
            "valid_from": ("2027-06-01T00:00:00+08:00" if "expired" in failing
                           else "2026-01-01T00:00:00+08:00")}))
        if "unconfirmed" not in failing:
            entries.append(("fin", "resource_confirmation", confirmation_id(rid, user),
                            {"resource_id": rid, "kind": "voice", "value": value,
                             "member_id": user}))
        if "no_principal" not in failing:
            entries.append(("fin", "resource_filing", filing_id(rid, f"e_{user}"),
                            {"resource_id": rid, "kind": "voice", "value": value,
                             "entrustment_id": f"e_{user}", "lender_id": "lender"}))
    return [
        *entries,
        ("tel", "resource", "b1", resource("+86139", "voice_block", assignee="lender")),
        ("tel", "resource", "b2", resource("+861390013", "voice_block", assignee="agency")),
        ("tel", "resource", "s1", resource("106901234", "sms_code", assignee="lender")),
        ("tel", "resource", "s2", resource("0" * 20, "sms_code", assignee="lender")),
        ("tel", "resource", "r12", None),  # a supply withdrawn
        ("fin", "resource_filing", filing_id("r2", "e_agency"), None),
        # A later supply of a number takes its slot; the earlier one's tombstone then
        # finds no slot of its own.
        ("tel", "resource", "r3x", resource(number(3), valid_from="2026-02-01T00:00:00+08:00")),
        ("tel", "resource", "r3", None),
        ("fin", "member", "lender", member("lender", "suspended")),
        ("fin", "resource_confirmation", confirmation_id("gone", "agency"),
         {"resource_id": "gone", "kind": "voice", "value": "+8613999999999",
          "member_id": "agency"}),  # waits for a supply that never comes
    ]


VALUES = [*(number(case) for case in range(64)), "+8613900138000", "+8613911112222",
          "106901234", "0" * 20, "1069", "13800100003", "not a number", "+" + "9" * 30]


def numbered(entries: list[Entry]) -> list[tuple[str, int, str, str, dict[str, Any] | None]]:
    seqs: dict[str, int] = {}
    out = []
    for origin, type, record_id, data in entries:
        seqs[origin] = seqs.get(origin, 0) + 1
        out.append((origin, seqs[origin], type, record_id, data))
    return out


def same_answers(shared: TraceIndex, whole: TraceIndex) -> None:
    assert (len(shared), shared.seqs, shared.version) == (len(whole), whole.seqs, whole.version)
    for value in VALUES:
        assert shared.find(value) == whole.find(value), value
        if value[:1] == "+" and value[1:].isdigit():
            for at in MOMENTS:
                assert shared.check(value, at) == whole.check(value, at), (value, at)
    for at in MOMENTS:
        assert Answers(shared, "tel").trace_json(VALUES, at) == (
            Answers(whole, "tel").trace_json(VALUES, at))
        assert shared.tally(at) == whole.tally(at)


def through_file(index: TraceIndex, path: Path) -> TraceIndex:
    snapshot.write(path, index.freeze())
    return TraceIndex(snapshot.read(path).base)


def test_the_decisions_cases_are_all_there() -> None:
    whole = TraceIndex()
    whole.apply_all(numbered(exhaustive()))
    # The lender suspended at last: no number traces, every other reason is there.
    assert {whole.check(number(case), AT) for case in range(64)} == set(REASONS)
    before = TraceIndex()
    before.apply_all(numbered(exhaustive()[:-2]))
    assert {before.check(number(case), AT) for case in range(64)} == {*REASONS, None}


@pytest.mark.parametrize("seed", range(12))
def test_a_snapshot_and_the_rest_answer_as_every_entry_applied(seed: int,
                                                               tmp_path: Path) -> None:
    entries = exhaustive()
    random.Random(seed).shuffle(entries)  # noqa: S311 - a reproducible order, not a secret
    log = numbered(entries)
    picked = random.Random(seed + 100).sample(range(len(log)), 4)  # noqa: S311 - as above
    cuts = sorted({0, len(log), *picked})
    for cut in cuts:
        whole = TraceIndex()
        whole.apply_all(log[:cut])
        shared = through_file(whole, tmp_path / f"at-{cut}.snapshot")
        same_answers(shared, whole)
        middle = (cut + len(log)) // 2
        for step, entry in enumerate(log[cut:], start=cut):
            whole.apply(*entry)
            shared.apply(*entry)
            if step % 7 == 0:
                same_answers(shared, whole)
            if step == middle:
                # A snapshot of an index that stands on one (the periodic rebuild).
                shared = through_file(shared, tmp_path / f"at-{cut}-{middle}.snapshot")
        same_answers(shared, whole)
        # Applying an entry again changes nothing, on a base as without one.
        shared.apply_all(log)
        same_answers(shared, whole)


def test_the_base_is_never_written(tmp_path: Path) -> None:
    log = numbered(exhaustive())
    whole = TraceIndex()
    whole.apply_all(log[:150])
    path = tmp_path / "index.snapshot"
    snapshot.write(path, whole.freeze())
    before = path.read_bytes()
    first, second = (TraceIndex(snapshot.read(path).base) for _ in range(2))
    first.apply_all(log[150:])
    assert path.read_bytes() == before
    same_answers(second, whole)


def _corruptions(good: bytes) -> dict[str, bytes]:
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01
    wrong_format = bytearray(good)
    wrong_format[8] = 99
    return {
        "altered": bytes(flipped),
        "truncated": good[:-40],
        "torn in the middle": good[: len(good) // 2],
        "wrong magic": b"RMSNAP01" + good[8:],
        "wrong format": bytes(wrong_format),
        "empty": b"",
        "extended": good + b"\x00" * 8,
    }


def test_a_snapshot_not_whole_as_written_is_never_read(tmp_path: Path) -> None:
    whole = TraceIndex()
    whole.apply_all(numbered(exhaustive()))
    path = tmp_path / "index.snapshot"
    snapshot.write(path, whole.freeze())
    good = path.read_bytes()
    for name, content in _corruptions(good).items():
        path.write_bytes(content)
        with pytest.raises(snapshot.Corrupt):
            snapshot.read(path)
        assert name
    path.write_bytes(good)
    same_answers(TraceIndex(snapshot.read(path).base), whole)
    aside = snapshot.set_aside(path)
    assert aside.name == "index.snapshot.corrupt"
    assert not path.exists()


def test_a_snapshot_derived_by_other_code_is_never_read(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    whole = TraceIndex()
    whole.apply_all(numbered(exhaustive()))
    path = tmp_path / "index.snapshot"
    with monkeypatch.context() as patched:  # as an older release would have written it
        patched.setattr(snapshot, "DERIVATION", "0" * 32)
        snapshot.write(path, whole.freeze())
    with pytest.raises(snapshot.Corrupt, match="other code"):
        snapshot.read(path)  # whole as written (its digest holds), and still not used


def _resealed(content: bytes) -> bytes:
    """`content` with its digest made to match again (a writer's bug, not a torn file)."""
    return content[:-32] + hashlib.sha256(content[:-32]).digest()


def test_a_sealed_snapshot_whose_meta_does_not_fit_is_never_read(tmp_path: Path) -> None:
    whole = TraceIndex()
    whole.apply_all(numbered(exhaustive()))
    path = tmp_path / "index.snapshot"
    snapshot.write(path, whole.freeze())
    good = path.read_bytes()
    meta_length = int.from_bytes(good[24:32], "little")
    meta = msgspec.msgpack.decode(good[32:32 + meta_length], type=snapshot.Meta)

    def with_meta(changed: snapshot.Meta) -> bytes:
        encoded = msgspec.msgpack.encode(changed)
        assert len(encoded) == meta_length  # the same widths: the arrays stay where they are
        return _resealed(good[:32] + encoded + good[32 + meta_length:])

    slot_rid = next(e for e in meta.extents if e.name == "slot_rid")
    spoiled = {
        "an array past the end": [msgspec.structs.replace(e, offset=65528)  # same width
                                  if e is slot_rid else e for e in meta.extents],
        "an unknown typecode": [msgspec.structs.replace(e, typecode="d")
                                if e is slot_rid else e for e in meta.extents],
        "an array missing": [msgspec.structs.replace(e, name="slot_riD")
                             if e is slot_rid else e for e in meta.extents],
    }
    for name, extents in spoiled.items():
        path.write_bytes(with_meta(msgspec.structs.replace(meta, extents=extents)))
        with pytest.raises(snapshot.Corrupt):
            snapshot.read(path)
        assert name
    path.write_bytes(_resealed(good[:32] + b"\xc1" * meta_length + good[32 + meta_length:]))
    with pytest.raises(snapshot.Corrupt, match="meta"):
        snapshot.read(path)
