"""Every answer is logged once with its real status and problem code, and carries its
X-Request-ID; libraries log as JSON too; database errors leave their values out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import structlog

from api.logging import configure_logging
from tests.support.client import SignedClient
from tests.support.factories import member_body


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The app's logging, configured by each test (the stream it binds is the test's own
    stdout, which is not the one fixtures see while they are set up)."""
    yield capsys
    structlog.reset_defaults()


def _configure() -> None:
    configure_logging()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _requests(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [line for line in _lines(capsys) if line.get("event") == "request"]


async def test_refused_requests_are_logged_with_status_code_and_request_id(
    operator: SignedClient, json_lines: pytest.CaptureFixture[str]
) -> None:
    _configure()
    target = f"/v1/members/{operator.id}"
    unsigned = await operator.client.get(target, headers={"X-Request-ID": "trace-me-1"})
    expired = await operator.get(target, iat=1, exp=2)
    wrong_type = await operator.client.post(
        "/v1/members", content=b"{}",
        headers={**operator.signer.headers("POST", "/v1/members", b"{}"),
                 "Content-Type": "text/plain"})
    malformed = await operator.request("POST", "/v1/members", raw=b'{"a":1,"a":2}')
    nowhere = await operator.client.get("/nowhere")
    answers = [unsigned, expired, wrong_type, malformed, nowhere]
    logged = _requests(json_lines)
    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (401, "token_missing"), (401, "token_expired"), (415, "unsupported_media_type"),
        (400, "malformed_body"), (404, "not_found")]
    assert [(line["status"], line.get("code")) for line in logged] == [
        (a.status_code, a.json()["code"]) for a in answers]
    assert unsigned.headers["x-request-id"] == "trace-me-1"
    for answer, line in zip(answers, logged, strict=True):
        assert answer.headers["x-request-id"] == line["request_id"]
    assert logged[0]["route"] == "/v1/members/{member_id}"
    assert logged[-1]["route"] == "?"
    assert "principal" not in logged[0]


async def test_an_accepted_request_has_no_code_and_its_principal(
    operator: SignedClient, json_lines: pytest.CaptureFixture[str]
) -> None:
    _configure()
    answer = await operator.post("/v1/members", member_body("lender"))
    assert answer.status_code == 201
    (line,) = _requests(json_lines)
    assert line["status"] == 201
    assert "code" not in line
    assert line["principal"] == operator.id
    assert line["request_id"] == answer.headers["x-request-id"]


def test_library_records_are_rendered_as_json(json_lines: pytest.CaptureFixture[str]) -> None:
    _configure()
    logging.getLogger("httpx").warning("peer answered %s", 503)
    logging.getLogger("asyncpg").error("connection lost")
    logging.getLogger("httpx").info("HTTP Request: GET /v1/sync/changes")  # below its level
    lines = _lines(json_lines)
    assert [(line["logger"], line["event"], line["level"]) for line in lines] == [
        ("httpx", "peer answered 503", "warning"), ("asyncpg", "connection lost", "error")]


async def test_database_errors_are_logged_without_their_values(
    operator: SignedClient, db: asyncpg.Connection, json_lines: pytest.CaptureFixture[str]
) -> None:
    _configure()
    body = member_body("lender")
    member_id = (await operator.post("/v1/members", body)).json()["id"]
    log = structlog.get_logger("test")
    with pytest.raises(asyncpg.UniqueViolationError) as raised:
        await db.execute("INSERT INTO members (SELECT * FROM members WHERE uscc = $1)",
                         body["uscc"])
    assert member_id in str(raised.value.detail)  # PostgreSQL quotes the key's value
    phone = "13800138000" + "x"  # not a literal: the frames' source lines are logged
    try:
        try:
            await db.execute("SELECT $1::text::int", phone)
        except asyncpg.DataError as exc:
            raise RuntimeError("while reading") from exc
    except RuntimeError:
        log.exception("unhandled_error")
    log.error("unhandled_error", exc_info=raised.value)
    text = json.dumps(_lines(json_lines), ensure_ascii=False)
    assert phone not in text
    assert member_id not in text
    assert text.count("message withheld") == 2
    assert "UniqueViolationError (sqlstate 23505" in text
    assert "RuntimeError: while reading" in text
    assert "test_request_logs.py" in text  # the frames are kept


def test_a_logger_cached_earlier_follows_the_configured_stream(
    json_lines: pytest.CaptureFixture[str]
) -> None:
    configure_logging(stream="stderr")  # as a command run in-process does
    cached = structlog.get_logger("test.cached")
    cached.info("first")
    configure_logging()
    cached.info("second")
    captured = json_lines.readouterr()
    assert [json.loads(line)["event"] for line in captured.err.splitlines()] == ["first"]
    assert [json.loads(line)["event"] for line in captured.out.splitlines()] == ["second"]
