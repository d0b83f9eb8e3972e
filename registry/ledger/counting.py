"""Counting calls the node has newly taken in, whoever reported them and from which node.

One function serves a member's report on this node and a peer's logged report alike: the
calls are inserted keyed by the call itself (so a call reported twice, here or anywhere,
is held once), and only the calls that were new are counted per debtor, Shanghai day and
principal, against each principal's agreement with that debtor if it has one. Both run
under the node's append lock, so each count sees every call committed before it.
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
SELECT h, to_timestamp(s), c, $4, d, ch, string_to_array(p, ' '), $8, $9
FROM unnest($1::bytea[], $2::bigint[], $3::text[], $5::int[], $6::text[], $7::text[])
    AS t(h, s, c, d, ch, p)
ON CONFLICT DO NOTHING
RETURNING callee_hash, extract(epoch FROM started_at)::bigint, caller
"""
# Connected calls per principal on the days of these debtors, this batch's included.
_CONNECTED = """
SELECT k.h, k.s, p, count(*)::int
FROM unnest($1::bytea[], $2::bigint[]) AS k(h, s)
JOIN contacts c ON c.callee_hash = k.h AND c.started_at >= to_timestamp(k.s)
     AND c.started_at < to_timestamp(k.s + 86400)
CROSS JOIN LATERAL unnest(c.principals) AS p
WHERE c.channel = 'voice' AND c.duration_s > 0
GROUP BY k.h, k.s, p
"""
_AGREEMENTS = """
SELECT lender_id, callee_hash, daily_limit, hours_start, hours_end, valid_to
FROM contact_agreements
WHERE callee_hash = ANY($1::bytea[]) AND valid_to > $2
ORDER BY created_at, id
"""
_ROLL_UP = """
INSERT INTO contact_days AS d (principal_id, day, calls, connected, effective, sms,
                               over_limit, outside_window)
SELECT * FROM unnest($1::text[], $2::date[], $3::int[], $4::int[], $5::int[], $6::int[],
                     $7::int[], $8::int[])
ON CONFLICT (principal_id, day) DO UPDATE
SET calls = d.calls + excluded.calls, connected = d.connected + excluded.connected,
    effective = d.effective + excluded.effective, sms = d.sms + excluded.sms,
    over_limit = d.over_limit + excluded.over_limit,
    outside_window = d.outside_window + excluded.outside_window
"""
_SHANGHAI_OFFSET = 8 * 3600
_Group = tuple[bytes, int, str]  # (callee_hash, day's first second, principal)


class Counted(msgspec.Struct, frozen=True, array_like=True):
    over_limit: bool
    outside_window: bool


class _Agreement(msgspec.Struct, frozen=True):
    terms: rules.Terms
    valid_to: int


def day_start(at: int) -> int:
    """The first second of the Asia/Shanghai day of `at`."""
    return (at + _SHANGHAI_OFFSET) // 86400 * 86400 - _SHANGHAI_OFFSET


async def insert_new(
    conn: Connection, origin: str, reporter_id: str, calls: Sequence[LoggedCall],
) -> list[int]:
    """Insert the calls the node does not hold yet; the positions of those inserted."""
    if not calls:
        return []
    hashes = [bytes.fromhex(c.callee_hash) for c in calls]
    rows = await conn.fetch(
        _INSERT, hashes, [c.started_at for c in calls], [c.caller for c in calls],
        calls[0].hash_version, [c.duration_s for c in calls],
        [c.channel for c in calls], [" ".join(c.principals) for c in calls],
        origin, reporter_id,
    )
    # The calls are distinct (the caller drops repeats within a batch): key -> position.
    position = {(h, c.started_at, c.caller): i
                for i, (h, c) in enumerate(zip(hashes, calls, strict=True))}
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


async def _connected_before(
    conn: Connection, calls: Sequence[LoggedCall]
) -> dict[_Group, int]:
    """Per debtor, day and principal of these (just inserted) calls: the connected calls
    held before them."""
    batch: dict[_Group, int] = defaultdict(int)
    for call in calls:
        if call.principals and rules.connected(call.channel, call.duration_s):
            start = day_start(call.started_at)
            for principal in call.principals:
                batch[(bytes.fromhex(call.callee_hash), start, principal)] += 1
    if not batch:
        return {}
    days = sorted({(h, s) for h, s, _ in batch})
    rows = await conn.fetch(_CONNECTED, [d[0] for d in days], [d[1] for d in days])
    totals = {(r[0], r[1], r[2]): r[3] for r in rows}
    return {group: totals.get(group, n) - n for group, n in batch.items()}


async def count(conn: Connection, calls: Sequence[LoggedCall]) -> list[Counted]:
    """Per call new to this node: whether it went over a limit or out of hours; and the
    day's totals per principal for the console. Call under the append lock."""
    agreements = await _agreements(conn, calls)
    seen = await _connected_before(conn, calls)
    rollup: dict[tuple[str, date], list[int]] = {}
    results = []
    for call in calls:
        start = day_start(call.started_at)
        day = rules.day_of(call.started_at)
        debtor = bytes.fromhex(call.callee_hash)
        is_connected = rules.connected(call.channel, call.duration_s)
        over = False
        outside = not call.principals and not rules.in_hours(call.started_at,
                                                              rules.DEFAULT_HOURS)
        for principal in call.principals:
            terms = terms_at(agreements.get((principal, call.callee_hash), ()), call.started_at)
            principal_over = False
            if is_connected:
                group = (debtor, start, principal)
                seen[group] += 1
                principal_over = seen[group] > terms.limit
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
        keys = sorted(rollup)
        await conn.execute(_ROLL_UP, [k[0] for k in keys], [k[1] for k in keys],
                           *[[rollup[k][i] for k in keys] for i in range(6)])
    return results
