"""Counting calls the node has newly taken in, whoever reported them and from which node.

One function serves a member's report on this node and a peer's logged report alike: the
calls are inserted keyed by the call itself (so a call reported twice, here or anywhere,
is held once), and only the calls that were new are counted per debtor, Shanghai day and
principal, against each principal's agreement with that debtor if it has one. Both run
under the node's append lock, so each count sees every call committed before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec

from registry.db import Connection
from registry.ledger import rules
from registry.ledger.model import LoggedCall

RECORD_TYPE = "contact_report"

# Every call already held on the days of these debtors: the repeats among a batch, and the
# connected calls each principal had made before it. (One index probe per debtor-day.)
_HELD_ON_DAYS = """
SELECT c.callee_hash, k.s, extract(epoch FROM c.started_at)::bigint, c.caller,
       c.channel = 'voice' AND c.duration_s > 0, c.principals
FROM unnest($1::bytea[], $2::bigint[]) AS k(h, s)
JOIN contacts c ON c.callee_hash = k.h AND c.started_at >= to_timestamp(k.s)
     AND c.started_at < to_timestamp(k.s + 86400)
"""
_COLUMNS = ["callee_hash", "started_at", "caller", "hash_version", "duration_s", "channel",
            "principals", "origin", "reporter_id"]
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
Group = tuple[bytes, int, str]  # (callee_hash, day's first second, principal)


class Counted(msgspec.Struct, frozen=True, array_like=True):
    over_limit: bool
    outside_window: bool


class _Agreement(msgspec.Struct, frozen=True):
    terms: rules.Terms
    valid_to: int


def day_start(at: int) -> int:
    """The first second of the Asia/Shanghai day of `at`."""
    return (at + _SHANGHAI_OFFSET) // 86400 * 86400 - _SHANGHAI_OFFSET


# Whether the ledger surely holds no call to a debtor (hash) on the day of a moment.
HoldsNone = Callable[[bytes, int], bool]


async def hold(
    conn: Connection, origin: str, reporter_id: str, calls: Sequence[LoggedCall],
    holds_none: HoldsNone | None = None,
) -> tuple[list[int], dict[Group, int]]:
    """Hold the calls the node does not hold yet (distinct calls; under the append lock,
    so nothing else inserts meanwhile): their positions, and per debtor, day and principal
    the connected calls held before them. PostgreSQL is asked only about the debtor-days
    `holds_none` (a worker's current memory of recent days) cannot rule out."""
    if not calls:
        return [], {}
    hashes = [bytes.fromhex(c.callee_hash) for c in calls]
    days = sorted({(h, day_start(c.started_at)) for h, c in zip(hashes, calls, strict=True)
                   if holds_none is None or not holds_none(h, c.started_at)})
    held: set[tuple[bytes, int, str]] = set()
    before: dict[Group, int] = defaultdict(int)
    for debtor, start, at, caller, connected, principals in await conn.fetch(
            _HELD_ON_DAYS, [d[0] for d in days], [d[1] for d in days]) if days else ():
        held.add((debtor, at, caller))
        if connected:
            for principal in principals:
                before[(debtor, start, principal)] += 1
    new = [i for i, (h, c) in enumerate(zip(hashes, calls, strict=True))
           if (h, c.started_at, c.caller) not in held]
    if new:
        # COPY, not INSERT: the repeats are already out, and nothing else inserts now.
        await conn.copy_records_to_table("contacts", columns=_COLUMNS, records=[
            (hashes[i], datetime.fromtimestamp(calls[i].started_at, UTC), calls[i].caller,
             calls[i].hash_version, calls[i].duration_s, calls[i].channel,
             list(calls[i].principals), origin, reporter_id) for i in new])
    return new, before


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


async def count(conn: Connection, calls: Sequence[LoggedCall], before: dict[Group, int]
                ) -> list[Counted]:
    """Per call new to this node: whether it went over a limit or out of hours (given the
    connected calls held `before`, from hold()); and the day's totals per principal for the
    console. Call under the append lock."""
    agreements = await _agreements(conn, calls)
    # By hex debtor, as the calls carry it (one conversion per held group, not per call).
    seen = defaultdict(int, {(h.hex(), s, p): n for (h, s, p), n in before.items()})
    rollup: dict[tuple[str, int], list[int]] = {}
    results = []
    default, in_hours = rules.DEFAULT_TERMS, rules.in_hours
    for call in calls:
        at, channel, duration = call.started_at, call.channel, call.duration_s
        start = day_start(at)
        is_connected = channel == "voice" and duration > 0
        is_effective = channel == "voice" and duration >= rules.EFFECTIVE_SECONDS
        over = False
        outside = not call.principals and not in_hours(at, default.hours)
        for principal in call.principals:
            agreed = agreements.get((principal, call.callee_hash)) if agreements else None
            terms = terms_at(agreed, at) if agreed else default
            principal_over = False
            if is_connected:
                group = (call.callee_hash, start, principal)
                seen[group] += 1
                principal_over = seen[group] > terms.limit
            principal_outside = not in_hours(at, terms.hours)
            over |= principal_over
            outside |= principal_outside
            roll = rollup.get((principal, start))
            if roll is None:
                roll = rollup[(principal, start)] = [0] * 6
            roll[0] += 1
            roll[1] += is_connected
            roll[2] += is_effective
            roll[3] += channel == "sms"
            roll[4] += principal_over
            roll[5] += principal_outside
        results.append(Counted(over, outside))
    if rollup:
        keys = sorted(rollup)
        await conn.execute(_ROLL_UP, [k[0] for k in keys], [rules.day_of(k[1]) for k in keys],
                           *[[rollup[k][i] for k in keys] for i in range(6)])
    return results
