"""Supervising an agency over an entrustment (API.md §11, Articles 17(二), 18): the agency's
signed commitments, the lender's evaluations and rectifications, a failed rectification
ending the entrustment. Each is a record of its writer's node, logged with its evidence."""

from __future__ import annotations

import msgspec

from registry import changelog
from registry.actors import Actor, record_evidence
from registry.db import Connection
from registry.entrustments import rules, store, views
from registry.entrustments.model import (
    Commitments,
    CommitmentsCreate,
    Evaluation,
    EvaluationCreate,
    Rectification,
    RectificationClose,
    RectificationCreate,
    RectificationRecord,
)
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from registry.ids import new_id
from registry.records import refuse_foreign

COMMITMENTS = "entrustment_commitment"
EVALUATION = "agency_evaluation"
RECTIFICATION = "rectification"


async def _log(conn: Connection, actor: Actor, record_type: str, record: msgspec.Struct,
               record_id: str) -> None:
    await changelog.append_one(conn, record_type, record_id, record)
    await record_evidence(conn, actor, record_type, record_id)


async def make_commitments(
    conn: Connection, entrustment_id: str, data: CommitmentsCreate, actor: Actor
) -> Commitments:
    """The entrusted agency signs all four commitments, once (its token is the evidence)."""
    rules.check_commitments(list(data.commitments))
    async with conn.transaction():
        entrustment = await store.fetch_visible(conn, entrustment_id, actor, lock=True)
        if entrustment.agency_id != actor.id:
            raise Forbidden("only the entrusted agency makes its commitments")
        rules.check_in_force(entrustment)
        commitments_id = new_id("ec")
        done = await conn.fetchrow(
            """INSERT INTO entrustment_commitments (id, origin, entrustment_id, agency_id,
                   commitments) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (entrustment_id) DO NOTHING
               RETURNING id, entrustment_id, agency_id, commitments, made_at""",
            commitments_id, await changelog.node_id(conn), entrustment_id, actor.id,
            sorted(rules.ALL_COMMITMENTS),
        )
        if done is None:
            raise Conflict("the commitments for this entrustment are made already",
                           code="already_committed")
        made = views.commitments_of(done)
        await _log(conn, actor, COMMITMENTS, made, made.id)
    return made


async def add_evaluation(
    conn: Connection, entrustment_id: str, data: EvaluationCreate, actor: Actor
) -> Evaluation:
    """The lender's evaluation of its agency over a period (Article 18(二))."""
    async with conn.transaction():
        entrustment = await store.fetch_as_lender(
            conn, entrustment_id, actor, "evaluate its agency")
        rules.check_evaluation(entrustment, data, rules.today())
        row = await conn.fetchrow(
            """INSERT INTO agency_evaluations (id, origin, entrustment_id, lender_id,
                   period_end, grade, scores, summary)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               RETURNING id, entrustment_id, lender_id, period_end, grade, scores, summary,
                         made_at""",
            new_id("ev"), await changelog.node_id(conn), entrustment_id, actor.id,
            data.period_end, data.grade, msgspec.to_builtins(data.scores), data.summary.strip(),
        )
        assert row is not None
        evaluation = views.evaluation_of(row)
        await _log(conn, actor, EVALUATION, evaluation, evaluation.id)
    return evaluation


async def open_rectification(
    conn: Connection, entrustment_id: str, data: RectificationCreate, actor: Actor
) -> Rectification:
    """The lender orders its agency to rectify by a date (Article 18(四))."""
    on = rules.today()
    rules.check_rectification(data, on)
    async with conn.transaction():
        entrustment = await store.fetch_as_lender(
            conn, entrustment_id, actor, "order a rectification")
        rules.check_in_force(entrustment)
        row = await conn.fetchrow(
            """INSERT INTO rectifications (id, origin, entrustment_id, lender_id, cause,
                   due_on, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)
               RETURNING id, entrustment_id, lender_id, cause, due_on, summary, status,
                   outcome, outcome_summary, opened_at, closed_at""",
            new_id("rc"), await changelog.node_id(conn), entrustment_id, actor.id,
            data.cause, data.due_on, data.summary.strip(),
        )
        assert row is not None
        record = views.rectification_record(row)
        await _log(conn, actor, RECTIFICATION, record, record.id)
    return views.rectification_view(record, on)


async def get_rectification(conn: Connection, rectification_id: str, actor: Actor) -> Rectification:
    row = await conn.fetchrow(views.SELECT_RECTIFICATIONS + " WHERE id = $1", rectification_id)
    if row is None:
        raise NotFound(f"no rectification {rectification_id}")
    await store.fetch_visible(conn, row["entrustment_id"], actor)
    return views.rectification_view(views.rectification_record(row), rules.today())


async def close_rectification(
    conn: Connection, rectification_id: str, data: RectificationClose, actor: Actor
) -> Rectification:
    """The lender records the outcome; `failed` ends the entrustment at once with that
    reason (Article 18(四)3), so its numbers stop tracing to the lender."""
    summary = data.summary.strip()
    if not summary:
        raise Invalid.field("summary", "required")
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT r.entrustment_id, r.origin, r.status, n.node_id"
            " FROM rectifications r, node_identity n WHERE r.id = $1 FOR UPDATE OF r",
            rectification_id)
        if row is None:
            raise NotFound(f"no rectification {rectification_id}")
        entrustment = await store.fetch_as_lender(
            conn, row["entrustment_id"], actor, "close a rectification")
        refuse_foreign(row["origin"], row["node_id"], f"rectification {rectification_id}")
        if row["status"] != "open":
            raise Conflict("the rectification is closed already", code="already_closed")
        closed = await conn.fetchrow(
            """UPDATE rectifications SET status = 'closed', outcome = $2,
                   outcome_summary = $3, closed_at = now()
               WHERE id = $1
               RETURNING id, entrustment_id, lender_id, cause, due_on, summary, status,
                   outcome, outcome_summary, opened_at, closed_at""",
            rectification_id, data.outcome, summary,
        )
        assert closed is not None
        record = views.rectification_record(closed)
        await _log(conn, actor, RECTIFICATION, record, record.id)
        if data.outcome == "failed" and not entrustment.ended:
            await store.end_now(
                conn, entrustment,
                f"rectification {rectification_id} failed (Article 18(四)3): {summary}"[:500],
                actor)
    return views.rectification_view(record, rules.today())


async def apply_remote_commitments(
    conn: Connection, origin: str, record_id: str, c: Commitments
) -> None:
    await conn.execute(
        """INSERT INTO entrustment_commitments (id, origin, entrustment_id, agency_id,
               commitments, made_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET commitments = $5
           WHERE entrustment_commitments.origin = $2""",
        record_id, origin, c.entrustment_id, c.agency_id, c.commitments, c.made_at,
    )


async def apply_remote_evaluation(
    conn: Connection, origin: str, record_id: str, e: Evaluation
) -> None:
    await conn.execute(
        """INSERT INTO agency_evaluations (id, origin, entrustment_id, lender_id, period_end,
               grade, scores, summary, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET period_end = $5, grade = $6, scores = $7,
               summary = $8
           WHERE agency_evaluations.origin = $2""",
        record_id, origin, e.entrustment_id, e.lender_id, e.period_end, e.grade,
        msgspec.to_builtins(e.scores), e.summary, e.made_at,
    )


async def apply_remote_rectification(
    conn: Connection, origin: str, record_id: str, r: RectificationRecord
) -> None:
    await conn.execute(
        """INSERT INTO rectifications (id, origin, entrustment_id, lender_id, cause, due_on,
               summary, status, outcome, outcome_summary, opened_at, closed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET due_on = $6, summary = $7, status = $8,
               outcome = $9, outcome_summary = $10, closed_at = $12
           WHERE rectifications.origin = $2""",
        record_id, origin, r.entrustment_id, r.lender_id, r.cause, r.due_on, r.summary,
        r.status, r.outcome, r.outcome_summary, r.opened_at, r.closed_at,
    )
