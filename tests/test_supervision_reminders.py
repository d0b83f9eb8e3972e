"""The supervision calendar told (API.md §14, Article 18): `evaluation.due` to the lender from
the notice edge on, `rectification.overdue` to the lender and the agency the day after the
due date, each once per item and due date however often the job runs; a new evaluation is a
new due date; a closed rectification is never overdue; a fault in one item spares the rest."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from registry.entrustments import reminders
from registry.entrustments.rules import today
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.whitelist import entrust

NOTICE = 30
SCORES = {"compliance": 90, "effectiveness": 80, "data_security": 85, "records": 70,
          "complaints": 95}


async def told(member: SignedClient, type: str, subject_id: str) -> list[dict[str, Any]]:
    answer = await member.get("/v1/events?limit=500")
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["items"]
            if e["type"] == type and e["subject"]["id"] == subject_id]


async def entrusted_due_in(
    operator: SignedClient, days: int
) -> tuple[SignedClient, SignedClient, dict[str, Any], date]:
    """A lender and an agency whose entrustment began a year less `days` ago, running two
    years: its first evaluation is due in `days` days (as its answer says)."""
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    starts = today().replace(year=today().year - 1) + timedelta(days=days)
    made = await entrust(lender, agency, starts_on=starts.isoformat(),
                         ends_on=starts.replace(year=starts.year + 2).isoformat())
    return lender, agency, made, date.fromisoformat(made["evaluation_due_on"])


async def test_evaluation_due_is_told_once_from_its_edge(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender, agency, made, due = await entrusted_due_in(operator, 10)
    assert due == today() + timedelta(days=10)

    await reminders.remind(db, notice_days=NOTICE, on=due - timedelta(days=NOTICE + 1))
    assert await told(lender, "evaluation.due", made["id"]) == []

    first = await reminders.remind(db, notice_days=NOTICE, on=due - timedelta(days=NOTICE))
    assert first.evaluations_due >= 1
    [event] = await told(lender, "evaluation.due", made["id"])
    assert event["subject"] == {"type": "entrustment", "id": made["id"]}
    assert event["data"] == {"entrustment_id": made["id"], "lender_id": lender.id,
                             "agency_id": agency.id, "due_on": due.isoformat(),
                             "overdue": False}

    # Run again and again, before and past the due date: still that one event.
    for days in (0, 5, NOTICE, NOTICE + 3):
        await reminders.remind(db, notice_days=NOTICE, on=due - timedelta(days=NOTICE - days))
    assert [e["id"] for e in await told(lender, "evaluation.due", made["id"])] == [event["id"]]
    # The agency is evaluated; the reminder is its lender's duty (docs/events.md).
    assert await told(agency, "evaluation.due", made["id"]) == []


async def test_an_evaluation_first_seen_overdue_is_told_as_overdue(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender, _, made, due = await entrusted_due_in(operator, 3)
    await reminders.remind(db, notice_days=NOTICE, on=due + timedelta(days=1))
    [event] = await told(lender, "evaluation.due", made["id"])
    assert event["data"]["overdue"] is True


async def test_a_new_evaluation_moves_the_due_date_and_is_told_anew(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender, _, made, due = await entrusted_due_in(operator, 5)
    await reminders.remind(db, notice_days=NOTICE, on=today())
    assert len(await told(lender, "evaluation.due", made["id"])) == 1

    evaluated = await lender.post(f"/v1/entrustments/{made['id']}/evaluations", {
        "period_end": today().isoformat(), "grade": "B", "scores": SCORES,
        "summary": "年度评估"})
    assert evaluated.status_code == 201, evaluated.text
    after = (await lender.get(f"/v1/entrustments/{made['id']}")).json()
    moved = date.fromisoformat(after["evaluation_due_on"])
    assert moved > due + timedelta(days=NOTICE)

    await reminders.remind(db, notice_days=NOTICE, on=today())
    await reminders.remind(db, notice_days=NOTICE, on=moved - timedelta(days=NOTICE + 1))
    assert len(await told(lender, "evaluation.due", made["id"])) == 1
    await reminders.remind(db, notice_days=NOTICE, on=moved - timedelta(days=NOTICE))
    events = await told(lender, "evaluation.due", made["id"])
    assert [e["data"]["due_on"] for e in events] == [due.isoformat(), moved.isoformat()]


async def test_an_overdue_rectification_is_told_to_both_sides_once_and_a_closed_one_never(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender, agency, made, _ = await entrusted_due_in(operator, 200)
    due = today()
    opened = []
    for summary in ("投诉处理不及时", "录音缺失"):
        answer = await lender.post(f"/v1/entrustments/{made['id']}/rectifications", {
            "cause": "consumer_harm", "due_on": due.isoformat(), "summary": summary})
        assert answer.status_code == 201, answer.text
        opened.append(answer.json()["id"])
    still_open, closed = opened
    done = await lender.post(f"/v1/rectifications/{closed}/close",
                             {"outcome": "rectified", "summary": "已整改"})
    assert done.status_code == 200, done.text

    await reminders.remind(db, notice_days=NOTICE, on=due)  # the due day itself is on time
    assert await told(lender, "rectification.overdue", still_open) == []

    for days in (1, 2, 30):
        await reminders.remind(db, notice_days=NOTICE, on=due + timedelta(days=days))
    for member in (lender, agency):
        [event] = await told(member, "rectification.overdue", still_open)
        assert event["subject"] == {"type": "rectification", "id": still_open}
        assert event["data"] == {
            "rectification_id": still_open, "entrustment_id": made["id"],
            "lender_id": lender.id, "agency_id": agency.id, "cause": "consumer_harm",
            "due_on": due.isoformat()}
        assert await told(member, "rectification.overdue", closed) == []
    # The entrustment is not evaluation-due for 200 days: nothing else was told.
    assert await told(lender, "evaluation.due", made["id"]) == []


async def test_a_fault_in_one_item_is_logged_and_spares_the_others(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender, _, broken, due = await entrusted_due_in(operator, 7)
    other_lender, _, fine, _ = await entrusted_due_in(operator, 7)
    # A real fault in the database, for one item only: its event cannot be written.
    await db.execute(f"""
        CREATE FUNCTION refuse_one_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.subject_id = '{broken["id"]}' THEN RAISE EXCEPTION 'disk trouble'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_one_event BEFORE INSERT ON events
            FOR EACH ROW EXECUTE FUNCTION refuse_one_event();""")
    try:
        with capture_logs() as logs:
            ran = await reminders.remind(db, notice_days=NOTICE, on=due)
    finally:
        await db.execute("DROP TRIGGER refuse_one_event ON events;"
                         " DROP FUNCTION refuse_one_event()")
    assert ran.failed == 1
    failures = [e for e in logs if e["event"] == "reminder_failed"]
    assert [e["subject"] for e in failures] == [broken["id"]]
    assert len(await told(other_lender, "evaluation.due", fine["id"])) == 1
    assert await told(lender, "evaluation.due", broken["id"]) == []

    # Not given up: the next run tells it.
    again = await reminders.remind(db, notice_days=NOTICE, on=due)
    assert (again.failed, again.evaluations_due) == (0, 1)
    assert len(await told(lender, "evaluation.due", broken["id"])) == 1


async def test_one_worker_runs_the_job_at_a_time(
    db: asyncpg.Connection, database_url: str,
) -> None:
    other = await asyncpg.connect(database_url)
    try:
        async with other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock($1)", reminders.LOCK)
            assert (await reminders.remind(db, notice_days=NOTICE)).skipped
        assert not (await reminders.remind(db, notice_days=NOTICE)).skipped
    finally:
        await other.close()


async def test_a_peers_entrustments_are_its_own_to_tell(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender, _, made, due = await entrusted_due_in(operator, 2)
    await db.execute("UPDATE entrustments SET origin = 'node-peer' WHERE id = $1", made["id"])
    await reminders.remind(db, notice_days=NOTICE, on=due)
    assert await told(lender, "evaluation.due", made["id"]) == []


@pytest.mark.parametrize("days", [0, 1])
async def test_the_notice_is_a_setting(
    operator: SignedClient, db: asyncpg.Connection, days: int,
) -> None:
    lender, _, made, due = await entrusted_due_in(operator, 1)
    await reminders.remind(db, notice_days=days, on=due - timedelta(days=1))
    assert len(await told(lender, "evaluation.due", made["id"])) == days


async def test_entrustments_at_the_ends_of_the_calendar_are_answered_and_told(
    operator: SignedClient, db: asyncpg.Connection,
) -> None:
    lender = await admit_member(operator, "lender")
    agency = await admit_member(operator, "collection_agency")
    # 30 days before the end is before the first date there is; a year after the start,
    # after the last: the calendar clamps, so neither answer is a 500.
    early = await entrust(lender, agency, starts_on="0001-01-01", ends_on="0001-01-20")
    assert early["evaluation_due_on"] == "0001-01-01"
    late = await entrust(lender, agency, starts_on="9999-06-01", ends_on="9999-12-31")
    assert late["evaluation_due_on"] == "9999-12-01"
    for made, on in ((early, date(1, 1, 10)), (late, date(9999, 11, 15))):
        ran = await reminders.remind(db, notice_days=NOTICE, on=on)
        assert ran.failed == 0
        [event] = await told(lender, "evaluation.due", made["id"])
        assert event["data"]["due_on"] == made["evaluation_due_on"]
