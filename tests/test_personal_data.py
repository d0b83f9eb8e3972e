"""No raw id number and no full collector name reaches the database or the logs (Art. 19).

Files collectors, checks them (listed, not listed, malformed and mistyped requests),
reviews them, then scans a `pg_dump` of the whole database and every captured log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
import structlog

from api.embedded_pg import client_tool
from api.logging import configure_logging
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id

NAMES = ["张三丰", "欧阳娜娜", "李雷"]


@pytest.fixture
def json_logs() -> Iterator[None]:
    """The app's own JSON logging, writing to the (captured) stdout of this test."""
    configure_logging(logging.DEBUG)
    yield
    structlog.reset_defaults()


async def pg_dump(database_url: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(client_tool("pg_dump")), "--no-owner", "-d", database_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


def forms(number: str) -> list[str]:
    return [number, number.upper(), number.lower()]


@pytest.mark.usefixtures("json_logs")
async def test_no_raw_id_number_or_full_name_in_database_or_logs(
    operator: SignedClient, database_url: str, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    agency = await admit_member(operator, "collection_agency")
    lender = await admit_member(operator, "lender")
    numbers = [make_prc_id(x=True), make_prc_id(x=False), make_prc_id("19851231", "440305")]
    for number, name in zip(numbers, NAMES, strict=True):
        filed = await agency.post("/v1/collector-filings", filing_body(number.lower(), name))
        assert filed.status_code == 201, filed.text
        await operator.post(f"/v1/collector-filings/{filed.json()['id']}/review",
                            {"decision": "publish", "reason": "核实"})
    unlisted = make_prc_id("20000229")
    bad_check = numbers[0][:17] + ("0" if numbers[0][17] != "0" else "1")
    for number in [*numbers, unlisted, bad_check]:
        await lender.post("/v1/collector-checks", {"id_type": "prc_id", "id_number": number})
    # Refused requests must not echo the number either.
    refused = [
        await agency.post("/v1/collector-filings", filing_body(bad_check, NAMES[0])),
        await agency.post("/v1/collector-filings",
                          filing_body(unlisted, NAMES[1], summary=f"{NAMES[1]}威胁")),
        await agency.post("/v1/collector-filings", filing_body(unlisted, NAMES[1], extra=1)),
        await lender.post("/v1/collector-checks", {"id_type": "passport", "id_number": unlisted}),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422, 422]

    dump = await pg_dump(database_url)
    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert '"route":"/v1/collector-checks"' in logs  # the app's JSON log lines were captured
    assert "collector_filings" in dump
    secrets_ = [f for n in [*numbers, unlisted, bad_check] for f in forms(n)] + NAMES
    for text, where in [(dump, "pg_dump"), (logs, "logs"),
                        (" ".join(r.text for r in refused), "problem answers")]:
        leaked = [s for s in secrets_ if s in text]
        assert leaked == [], f"{where} holds {len(leaked)} raw id numbers or names"
