"""Counting calls the node has newly taken in, whoever reported them and from which node.

One function serves a member's report on this node and a peer's logged report alike: the
calls are inserted keyed by the call itself (so a call reported twice, here or anywhere,
is held once), and only the calls that were new are counted per debtor, Shanghai day and
principal, against each principal's agreement with that debtor if it has one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime

import msgspec

from registry.db import Connection
from registry.ledger import rules
from registry.ledger.model import LoggedCall

RECORD_TYPE = "contact_report"

_INSERT = """
INSERT INTO contacts (callee_hash, started_at, caller, hash_version, duration_s, channel,
                      principals, origin, reporter_id)
SELECT h, to_timestamp(s), c, v, d, ch, string_to_array(p, ' '), $8, $9
FROM unnest($1::bytea[], $2::bigint[], $3::text[], $4::int[], $5::int[], $6::text[],
            $7::text[]) AS t(h, s, c, v, d, ch, p)
ON CONFLICT DO NOTHING
RETURNING callee_hash, extract(epoch FROM started_at)::bigint, caller
"""
_AGREEMENTS = """
SELECT lender_id, callee_hash, daily_limit, hours_start, hours_end, valid_to
FROM contact_agreements
WHERE callee_hash = ANY($1::bytea[]) AND valid_to > $2
ORDER BY created_at, id
"""
_COUNT = """
INSERT INTO contact_counts AS c (callee_hash, day, principal_id, connected, effective, sms)
SELECT * FROM unnest($1::bytea[], $2::date[], $3::text[], $4::int[], $5::int[], $6::int[])
ORDER BY 1, 2, 3
ON CONFLICT (callee_hash, day, principal_id) DO UPDATE
SET connected = c.connected + excluded.connected, effective = c.effective + excluded.effective,
    sms = c.sms + excluded.sms
RETURNING callee_hash, day, principal_id, connected
"""
_ROLL_UP = """
INSERT INTO contact_days AS d (principal_id, day, calls, connected, effective, sms,
                               over_limit, outside_window)
SELECT * FROM unnest($1::text[], $2::date[], $3::int[], $4::int[], $5::int[], $6::int[],
                     $7::int[], $8::int[])
ORDER BY 1, 2
ON CONFLICT (principal_id, day) DO UPDATE
SET calls = d.calls + excluded.calls, connected = d.connected + excluded.connected,
    effective = d.effective + excluded.effective, sms = d.sms + excluded.sms,
    over_limit = d.over_limit + excluded.over_limit,
    outside_window = d.outside_window + excluded.outside_window
"""


_Key = tuple[str, date, str]  # (callee_hash, day, principal)


class Counted(msgspec.Struct, frozen=True, array_like=True):
    over_limit: bool
    outside_window: bool


class _Agreement(msgspec.Struct, frozen=True):
    terms: rules.Terms
    valid_to: int


async def insert_new(
    conn: Connection, origin: str, reporter_id: str, calls: Sequence[LoggedCall],
) -> list[int]:
    """Insert the calls the node does not hold yet; the positions of those inserted."""
    if not calls:
        return []
    hashes = [bytes.fromhex(c.callee_hash) for c in calls]
    rows = await conn.fetch(
        _INSERT, hashes, [c.started_at for c in calls], [c.caller for c in calls],
        [c.hash_version for c in calls], [c.duration_s for c in calls],
        [c.channel for c in calls], [" ".join(c.principals) for c in calls],
        origin, reporter_id,
    )
    # The calls are distinct (the caller drops repeats within a batch): key -> position.
    position = {(h, c.started_at, c.caller): i for i, (h, c) in enumerate(zip(hashes, calls,
                                                                            strict=True))}
    return sorted(position[(r[0], r[1], r[2])] for r in rows)


async def _agreements(
    conn: Connection, calls: Sequence[LoggedCall]
) -> dict[tuple[str, str], list[_Agreement]]:
    hashes = sorted({bytes.fromhex(c.callee_hash) for c in calls if c.principals})
    if not hashes:
        return {}
    earliest = datetime.fromtimestamp(min(c.started_at for c in calls), UTC)
    found: dict[tuple[str, str], list[_Agreement]] = defaultdict(list)
    for r in await conn.fetch(_AGREEMENTS, hashes, earliest):
        terms = rules.terms_of(r["daily_limit"], r["hours_start"], r["hours_end"])
        found[(r["lender_id"], r["callee_hash"].hex())].append(
            _Agreement(terms, int(r["valid_to"].timestamp())))
    return found


def terms_at(agreements: Sequence[_Agreement], at: int) -> rules.Terms:
    """The latest agreement still valid at `at`, else the guideline's own terms."""
    for agreement in reversed(agreements):
        if agreement.valid_to > at:
            return agreement.terms
    return rules.DEFAULT_TERMS


async def count(conn: Connection, calls: Sequence[LoggedCall]) -> list[Counted]:
    """Count calls new to this node; per call, whether it went over a limit or out of hours.

    The counters are upserted in key order and return their totals, so two batches
    counting one debtor at once are serialised by the row lock and each sees the other.
    """
    agreements = await _agreements(conn, calls)
    increments: dict[_Key, list[int]] = {}
    days: list[date] = []
    for call in calls:
        day = rules.day_of(call.started_at)
        days.append(day)
        is_connected = rules.connected(call.channel, call.duration_s)
        is_effective = rules.effective(call.channel, call.duration_s)
        for principal in call.principals:
            add = increments.setdefault((call.callee_hash, day, principal), [0, 0, 0])
            add[0] += is_connected
            add[1] += is_effective
            add[2] += call.channel == "sms"
    totals: dict[_Key, int] = {}
    if increments:
        keys = list(increments)
        rows = await conn.fetch(
            _COUNT, [bytes.fromhex(k[0]) for k in keys], [k[1] for k in keys],
            [k[2] for k in keys], [increments[k][0] for k in keys],
            [increments[k][1] for k in keys], [increments[k][2] for k in keys])
        totals = {(r[0].hex(), r[1], r[2]): r[3] for r in rows}
    # Each call's place among the day's connected calls: the count before this batch,
    # then this batch's calls in the order reported.
    seen = {k: totals[k] - increments[k][0] for k in increments}
    rollup: dict[tuple[str, date], list[int]] = {}
    results = []
    for call, day in zip(calls, days, strict=True):
        is_connected = rules.connected(call.channel, call.duration_s)
        over = False
        outside = not call.principals and not rules.in_hours(call.started_at,
                                                              rules.DEFAULT_HOURS)
        for principal in call.principals:
            terms = terms_at(agreements.get((principal, call.callee_hash), ()), call.started_at)
            key = (call.callee_hash, day, principal)
            principal_over = False
            if is_connected:
                seen[key] += 1
                principal_over = seen[key] > terms.limit
            principal_outside = not rules.in_hours(call.started_at, terms.hours)
            over |= principal_over
            outside |= principal_outside
            roll = rollup.setdefault((principal, day), [0] * 6)
            roll[0] += 1
            roll[1] += is_connected
            roll[2] += rules.effective(call.channel, call.duration_s)
            roll[3] += call.channel == "sms"
            roll[4] += principal_over
            roll[5] += principal_outside
        results.append(Counted(over, outside))
    if rollup:
        keys2 = list(rollup)
        await conn.execute(_ROLL_UP, [k[0] for k in keys2], [k[1] for k in keys2],
                           *[[rollup[k][i] for k in keys2] for i in range(6)])
    return results
