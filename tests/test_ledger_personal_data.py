"""No debtor's number, in any way it is written, reaches the database or the logs (Art. 19).

Reports calls (taken, repeated, refused), asks allowances and traces with `?callee=`, makes
and ends an agreement, then scans a `pg_dump` of the whole database, every captured log
line and every problem answer.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from tests.support.client import SignedClient
from tests.support.ledger import DEBTOR, DEBTOR_FORMS, call, ledger_cast
from tests.test_personal_data import json_logs, pg_dump

__all__ = ["json_logs"]
OTHER = "+8618612345678"
OTHER_FORMS = ["+8618612345678", "18612345678", "186-1234-5678", "8618612345678"]


@pytest.mark.usefixtures("json_logs")
async def test_no_debtor_number_in_database_or_logs(
    operator: SignedClient, database_url: str, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The test's own HTTP client logs each URL it requests (a `?callee=` among them): that
    # is the client's log, not the node's (which serves with uvicorn's access log off).
    caplog.set_level(logging.WARNING, logger="httpx")
    c = await ledger_cast(operator, "+8613700000")
    a1 = c.numbers[c.agency1.id]
    at = "2026-11-27T09:00:00+08:00"
    calls = [call(a1, at, callee=form) for form in DEBTOR_FORMS]
    taken = await c.carrier.post("/v1/contacts", {"items": [*calls, call(a1, at, callee=OTHER)]})
    assert taken.status_code == 200, taken.text
    again = await c.agency1.post("/v1/contacts", {"items": calls[:2]})
    assert again.status_code == 200
    refused = [
        await c.carrier.post("/v1/contacts", {"items": [call(a1, at, -5, callee=DEBTOR)]}),
        await c.carrier.post("/v1/contacts", {"items": [call(a1, at, callee="13912345678999")]}),
        await c.carrier.post("/v1/contacts", {"items": [call(a1, at, callee=DEBTOR)],
                                              "extra": DEBTOR}),
        await c.agency2.post("/v1/contacts", {"items": [call(a1, at, callee=OTHER)]}),
        await c.agency1.post("/v1/contacts/agreements", {
            "callee": DEBTOR, "daily_limit": 9, "valid_to": "2030-01-01T00:00:00+08:00"}),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422, 403, 403]
    for form in DEBTOR_FORMS[:3]:
        asked = await c.carrier.post("/v1/contacts/allowance",
                                     {"caller": a1, "callee": form, "at": at})
        assert asked.status_code == 200
        traced = await c.carrier.get(f"/v1/trace/{quote(a1, safe='')}?callee="
                                     f"{quote(form, safe='')}")
        assert traced.status_code == 200
        assert "contact" in traced.json()
    made = await c.lender.post("/v1/contacts/agreements", {
        "callee": OTHER, "daily_limit": 5, "valid_to": "2030-01-01T00:00:00+08:00"})
    assert made.status_code == 201
    assert (await c.lender.delete(f"/v1/contacts/agreements/{made.json()['id']}")
            ).status_code == 204
    await c.lender.post("/v1/contacts/agreements", {
        "callee": DEBTOR, "daily_limit": 5, "valid_to": "2030-01-01T00:00:00+08:00"})

    dump = await pg_dump(database_url)
    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert '"route":"/v1/contacts"' in logs  # the app's JSON log lines were captured
    assert "contact_reports" in dump
    assert "contact_report" in dump
    answers = " ".join(r.text for r in [taken, again, *refused])
    secrets_ = [*DEBTOR_FORMS, *OTHER_FORMS, "13912345678", "18612345678"]
    for text, where in [(dump, "pg_dump"), (logs, "logs"), (answers, "answers")]:
        leaked = [s for s in secrets_ if s in text]
        assert leaked == [], f"{where} holds a debtor's number in {len(leaked)} forms"
