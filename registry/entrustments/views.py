"""Entrustments as answered: each with its commitments, evaluations, rectifications, the
evaluation calendar and its agency's status now (API.md §11), read in four queries for
any number of entrustments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import asyncpg
import msgspec

from registry.db import Connection
from registry.entrustments import rules
from registry.entrustments.model import (
    Commitments,
    Entrustment,
    Evaluation,
    Rectification,
    RectificationRecord,
)

SELECT_COMMITMENTS = """SELECT id, entrustment_id, agency_id, commitments, made_at
FROM entrustment_commitments"""
SELECT_EVALUATIONS = """SELECT id, entrustment_id, lender_id, period_end, grade, scores,
       summary, made_at FROM agency_evaluations"""
SELECT_RECTIFICATIONS = """SELECT id, entrustment_id, lender_id, cause, due_on, summary,
       status, outcome, outcome_summary, opened_at, closed_at FROM rectifications"""


def commitments_of(row: asyncpg.Record) -> Commitments:
    return Commitments(**dict(row.items()))


def evaluation_of(row: asyncpg.Record) -> Evaluation:
    return msgspec.convert(dict(row.items()), Evaluation)


def rectification_record(row: asyncpg.Record) -> RectificationRecord:
    return RectificationRecord(**dict(row.items()))


def rectification_view(record: RectificationRecord, on: date) -> Rectification:
    return Rectification(
        **msgspec.structs.asdict(record),
        overdue=rules.rectification_overdue(record.status, record.due_on, on),
    )


async def with_supervision(
    conn: Connection, records: Sequence[Entrustment], on: date | None = None
) -> list[Entrustment]:
    """`records` (as stored) with their supervision, in their order; `on` is the Beijing
    date judged (today)."""
    if not records:
        return []
    on = on or rules.today()
    ids = [r.id for r in records]
    commitments = {
        r["entrustment_id"]: commitments_of(r)
        for r in await conn.fetch(SELECT_COMMITMENTS + " WHERE entrustment_id = ANY($1)", ids)}
    evaluations: defaultdict[str, list[Evaluation]] = defaultdict(list)
    for row in await conn.fetch(SELECT_EVALUATIONS + " WHERE entrustment_id = ANY($1)"
                                " ORDER BY period_end, made_at, id", ids):
        evaluations[row["entrustment_id"]].append(evaluation_of(row))
    rectifications: defaultdict[str, list[Rectification]] = defaultdict(list)
    for row in await conn.fetch(SELECT_RECTIFICATIONS + " WHERE entrustment_id = ANY($1)"
                                " ORDER BY opened_at, id", ids):
        rectifications[row["entrustment_id"]].append(
            rectification_view(rectification_record(row), on))
    statuses = {r["id"]: r["status"] for r in await conn.fetch(
        "SELECT id, status FROM members WHERE id = ANY($1)", [r.agency_id for r in records])}
    answers = []
    for record in records:
        evaluated = evaluations.get(record.id, [])
        due_on = rules.evaluation_due_on(
            record, max((e.period_end for e in evaluated), default=None))
        answers.append(msgspec.structs.replace(
            record, commitments=commitments.get(record.id), evaluations=evaluated,
            evaluation_due_on=due_on,
            evaluation_overdue=rules.evaluation_overdue(record, due_on, on),
            rectifications=rectifications.get(record.id, []),
            agency_status=statuses.get(record.agency_id),
        ))
    return answers


async def one_with_supervision(conn: Connection, record: Entrustment) -> Entrustment:
    return (await with_supervision(conn, [record]))[0]
