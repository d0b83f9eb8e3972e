"""Resource storage (API.md §6): supplies by carriers, confirmations by their users, filings
by lenders. Every write is one transaction with its change-log entries and evidence.

A confirmation or a filing is a record of its own, authored by the confirming or filing
member's node and naming the resource, so a supply made on another node stays untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from registry import changelog, phone
from registry.actors import Actor, record_batch_evidence, record_evidence
from registry.db import Connection
from registry.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from registry.events import model as events
from registry.events.outbox import emit_all
from registry.ids import new_ids
from registry.records import refuse_foreign
from registry.resources.model import (
    CONFIRMATION,
    EARLIEST,
    FILING,
    LATEST,
    MAX_BATCH,
    RESOURCE,
    ConfirmationRecord,
    Filing,
    FilingRecord,
    Resource,
    ResourceChange,
    ResourceRecord,
    ResourceSupply,
    confirmation_id,
    filing_id,
)

# Supplies of one value must not overlap; checking and inserting under one lock keeps two
# concurrent supplies from both passing the check.
_SUPPLY_LOCK = 0x5355_5050  # "SUPP"
USER_KINDS = frozenset({"lender", "debt_buyer", "collection_agency"})

_SELECT_RESOURCE = """
SELECT r.id, r.origin, r.kind, r.value, r.supplier_id, r.assignee_id,
       r.valid_from, r.valid_to, r.created_at, c.confirmed_at
FROM resources r
LEFT JOIN resource_confirmations c ON c.resource_id = r.id AND c.member_id = r.assignee_id
"""


def _resource(row: asyncpg.Record) -> Resource:
    return Resource(
        id=row["id"], origin=row["origin"], kind=row["kind"], value=row["value"],
        supplier_id=row["supplier_id"], assignee_id=row["assignee_id"],
        valid_from=row["valid_from"], valid_to=row["valid_to"], created_at=row["created_at"],
        confirmed=row["confirmed_at"] is not None, confirmed_at=row["confirmed_at"],
    )


def resource_log(r: Resource) -> ResourceRecord:
    return ResourceRecord(id=r.id, kind=r.kind, value=r.value, supplier_id=r.supplier_id,
                          assignee_id=r.assignee_id, valid_from=r.valid_from,
                          valid_to=r.valid_to, created_at=r.created_at)


async def fetch(conn: Connection, resource_id: str) -> Resource:
    row = await conn.fetchrow(_SELECT_RESOURCE + " WHERE r.id = $1", resource_id)
    if row is None:
        raise NotFound(f"no resource {resource_id}")
    return _resource(row)


async def resources_of(conn: Connection, member_id: str, limit: int = 200) -> list[Resource]:
    """The resources a member supplies or uses, newest first (the operators' member page)."""
    rows = await conn.fetch(
        _SELECT_RESOURCE + " WHERE r.supplier_id = $1 OR r.assignee_id = $1"
        " ORDER BY r.created_at DESC, r.id LIMIT $2", member_id, limit,
    )
    return [_resource(r) for r in rows]


async def resources_filed_under(
    conn: Connection, entrustment_id: str, limit: int = 200
) -> list[Resource]:
    """The agency's resources its lender filed under one entrustment (the entrustment page)."""
    rows = await conn.fetch(
        _SELECT_RESOURCE + " JOIN resource_filings f ON f.resource_id = r.id"
        " WHERE f.entrustment_id = $1 ORDER BY r.created_at DESC, r.id LIMIT $2",
        entrustment_id, limit,
    )
    return [_resource(r) for r in rows]


async def get_resource(conn: Connection, resource_id: str, actor: Actor) -> Resource:
    resource = await fetch(conn, resource_id)
    if actor.is_operator or actor.id in (resource.supplier_id, resource.assignee_id):
        return resource
    filed = await conn.fetchval(
        "SELECT 1 FROM resource_filings WHERE resource_id = $1 AND lender_id = $2",
        resource_id, actor.id,
    )
    if filed is None:
        raise NotFound(f"no resource {resource_id}")
    return resource


# ---- supplies ------------------------------------------------------------------------

def _check_times(item: ResourceSupply | ResourceChange, at: str) -> list[FieldError]:
    problems = []
    for name in ("valid_from", "valid_to"):
        moment = getattr(item, name)
        if moment is not None and moment.tzinfo is None:
            problems.append(FieldError(f"{at}{name}", "a time needs its UTC offset"))
        elif moment is not None and not EARLIEST <= moment <= LATEST:
            problems.append(FieldError(f"{at}{name}", "a time between 1970 and 9998"))
    if (not problems and item.valid_from is not None and item.valid_to is not None
            and item.valid_to <= item.valid_from):
        problems.append(FieldError(f"{at}valid_to", "must be after valid_from"))
    return problems


async def _check_supplies(
    conn: Connection, items: Sequence[ResourceSupply], prefix: str
) -> tuple[list[str], list[FieldError], list[FieldError]]:
    """Normalised values, field problems, and values already supplied (kept apart: a
    single supply answers those with 409)."""
    problems: list[FieldError] = []
    values: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for n, item in enumerate(items):
        at = prefix.format(n)
        try:
            value = phone.normalise(item.kind, item.value)
        except phone.NotANumber as exc:
            problems.append(FieldError(f"{at}value", str(exc)))
            value = ""
        values.append(value)
        if value and (item.kind, value) in seen:
            first = prefix.format(seen[(item.kind, value)])
            problems.append(FieldError(f"{at}value", f"repeats {first}value"))
        seen.setdefault((item.kind, value), n)
        problems.extend(_check_times(item, at))
    assignees = {r["id"]: (r["kind"], r["status"]) for r in await conn.fetch(
        "SELECT id, kind, status FROM members WHERE id = ANY($1)",
        list({i.assignee_id for i in items}),
    )}
    for n, item in enumerate(items):
        found = assignees.get(item.assignee_id)
        if found is None or found[1] == "removed":
            problems.append(FieldError(f"{prefix.format(n)}assignee_id", "no such member"))
        elif found[0] not in USER_KINDS:
            problems.append(FieldError(f"{prefix.format(n)}assignee_id",
                                       "a lender, debt buyer or collection agency"))
    taken = {(r["kind"], r["value"]) for r in await conn.fetch(
        "SELECT kind, value FROM resources WHERE value = ANY($1)"
        " AND (valid_to IS NULL OR valid_to > now())",
        [v for v in values if v],
    )}
    duplicates = [FieldError(f"{prefix.format(n)}value", "already supplied and not expired")
                  for n, item in enumerate(items) if (item.kind, values[n]) in taken]
    return values, problems, duplicates


async def supply(conn: Connection, items: Sequence[ResourceSupply], actor: Actor,
                 *, batch: bool) -> list[Resource]:
    """Record the carrier's supplies, all or none."""
    if batch and not 1 <= len(items) <= MAX_BATCH:
        raise Invalid.field("items", f"1 to {MAX_BATCH} supplies")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SUPPLY_LOCK)
        values, problems, duplicates = await _check_supplies(
            conn, items, "items[{}]." if batch else "")
        if problems or (batch and duplicates):
            raise Invalid(problems + duplicates)
        if duplicates:
            raise Conflict(f"{values[0]} is already supplied", code="duplicate")
        origin = await changelog.node_id(conn)
        ids = new_ids("r", len(items))
        rows = await conn.fetch(
            """INSERT INTO resources AS r (id, origin, kind, value, supplier_id, assignee_id,
                                           valid_from, valid_to)
                SELECT id, $2, kind, value, $3, assignee, coalesce(vf, now()), vt
                FROM unnest($1::text[], $4::text[], $5::text[], $6::text[],
                            $7::timestamptz[], $8::timestamptz[])
                     AS t(id, kind, value, assignee, vf, vt)
                RETURNING r.id, r.origin, r.kind, r.value, r.supplier_id, r.assignee_id,
                          r.valid_from, r.valid_to, r.created_at,
                          NULL::timestamptz AS confirmed_at""",
            ids, origin, actor.id, [i.kind for i in items], values,
            [i.assignee_id for i in items], [i.valid_from for i in items],
            [i.valid_to for i in items],
        )
        made = {r["id"]: _resource(r) for r in rows}
        resources = [made[i] for i in ids]
        await changelog.append(conn, [changelog.record(RESOURCE, r.id, resource_log(r))
                                      for r in resources])
        await record_batch_evidence(conn, actor, RESOURCE, [r.id for r in resources])
        # Each assignee is told, so that it confirms (or disowns) the number.
        await emit_all(conn, [events.Draft(
            events.RESOURCE_SUPPLIED, events.EventSubject(RESOURCE, r.id),
            events.ResourceSupplied(resource_id=r.id, kind=r.kind, value=r.value,
                                    supplier_id=r.supplier_id, valid_from=r.valid_from,
                                    valid_to=r.valid_to),
            (r.assignee_id,)) for r in resources])
    return resources


async def change_supply(
    conn: Connection, resource_id: str, data: ResourceChange, actor: Actor
) -> Resource:
    """Only the supplying carrier changes a supply, and only on the node that holds it."""
    if problems := _check_times(data, ""):
        raise Invalid(problems)
    async with conn.transaction():
        current = await conn.fetchrow(
            "SELECT supplier_id, origin, valid_from, valid_to FROM resources WHERE id = $1"
            " FOR UPDATE", resource_id)
        if current is None:
            raise NotFound(f"no resource {resource_id}")
        if current["supplier_id"] != actor.id:
            raise Forbidden("only the supplying carrier may change a supply")
        refuse_foreign(current["origin"], await changelog.node_id(conn),
                       f"resource {resource_id}")
        valid_from = data.valid_from or current["valid_from"]
        valid_to = data.valid_to if data.valid_to is not None else current["valid_to"]
        if valid_to is not None and valid_to <= valid_from:
            raise Invalid.field("valid_to", "must be after valid_from")
        await conn.execute(
            "UPDATE resources SET valid_from = $2, valid_to = $3, updated_at = now()"
            " WHERE id = $1", resource_id, valid_from, valid_to)
        resource = await fetch(conn, resource_id)
        await changelog.append_one(conn, RESOURCE, resource_id, resource_log(resource))
        await record_evidence(conn, actor, RESOURCE, resource_id)
    return resource


# ---- confirmations and filings -------------------------------------------------------

async def confirm(conn: Connection, ids: Sequence[str], actor: Actor, *, batch: bool) -> None:
    """The assignee confirms that it uses these resources; all or none; idempotent."""
    if batch and not 1 <= len(ids) <= MAX_BATCH:
        raise Invalid.field("ids", f"1 to {MAX_BATCH} resource ids")
    async with conn.transaction():
        rows = {r["id"]: r for r in await conn.fetch(
            "SELECT r.id, r.kind, r.value, r.assignee_id, c.id AS confirmation"
            " FROM resources r LEFT JOIN resource_confirmations c"
            "   ON c.resource_id = r.id AND c.member_id = $2"
            " WHERE r.id = ANY($1)", list(ids), actor.id)}
        problems = []
        for n, resource_id in enumerate(ids):
            row = rows.get(resource_id)
            field = f"ids[{n}]"
            if row is None:
                if not batch:
                    raise NotFound(f"no resource {resource_id}")
                problems.append(FieldError(field, "no such resource"))
            elif row["assignee_id"] != actor.id:
                if not batch:
                    raise Forbidden("only the member the resource is supplied to may confirm it")
                problems.append(FieldError(field, "not supplied to you"))
        if problems:
            raise Invalid(problems)
        fresh = [rows[i] for i in dict.fromkeys(ids) if rows[i]["confirmation"] is None]
        if not fresh:
            return
        origin = await changelog.node_id(conn)
        confirmed = await conn.fetch(
            """INSERT INTO resource_confirmations (id, origin, resource_id, member_id)
               SELECT id, $2, resource_id, $3 FROM unnest($1::text[], $4::text[])
                   AS t(id, resource_id)
               RETURNING id, resource_id, confirmed_at""",
            [confirmation_id(r["id"], actor.id) for r in fresh], origin, actor.id,
            [r["id"] for r in fresh],
        )
        at = {r["resource_id"]: r["confirmed_at"] for r in confirmed}
        await changelog.append(conn, [
            changelog.record(CONFIRMATION, confirmation_id(r["id"], actor.id), ConfirmationRecord(
                resource_id=r["id"], kind=r["kind"], value=r["value"], member_id=actor.id,
                confirmed_at=at[r["id"]]))
            for r in fresh
        ])
        await record_batch_evidence(conn, actor, CONFIRMATION,
                                    [confirmation_id(r["id"], actor.id) for r in fresh])


async def file(
    conn: Connection, resource_id: str, entrustment_id: str, actor: Actor
) -> Filing:
    """A lender registers its agency's resource under the entrustment of that agency."""
    async with conn.transaction():
        entrustment = await conn.fetchrow(
            "SELECT lender_id, agency_id, ended FROM entrustments WHERE id = $1 FOR SHARE",
            entrustment_id)
        if entrustment is None:
            raise NotFound(f"no entrustment {entrustment_id}")
        if entrustment["lender_id"] != actor.id:
            raise Forbidden("the entrustment is not yours")
        if entrustment["ended"]:
            raise Conflict("the entrustment has ended", code="entrustment_ended")
        resource = await conn.fetchrow(
            "SELECT kind, value, assignee_id FROM resources WHERE id = $1", resource_id)
        if resource is None:
            raise NotFound(f"no resource {resource_id}")
        if resource["assignee_id"] != entrustment["agency_id"]:
            raise Forbidden("the resource is not used by the agency that entrustment names")
        record_id = filing_id(resource_id, entrustment_id)
        try:
            row = await conn.fetchrow(
                """INSERT INTO resource_filings (id, origin, resource_id, entrustment_id,
                                                 lender_id)
                   VALUES ($1, $2, $3, $4, $5)
                   RETURNING id, origin, resource_id, entrustment_id, lender_id, filed_at""",
                record_id, await changelog.node_id(conn), resource_id, entrustment_id,
                actor.id)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("the resource is already filed under this entrustment",
                           code="duplicate") from exc
        assert row is not None
        filing = Filing(**dict(row.items()))
        await changelog.append_one(conn, FILING, record_id, FilingRecord(
            resource_id=resource_id, kind=resource["kind"], value=resource["value"],
            entrustment_id=entrustment_id, lender_id=actor.id, filed_at=filing.filed_at))
        await record_evidence(conn, actor, FILING, record_id)
    return filing
