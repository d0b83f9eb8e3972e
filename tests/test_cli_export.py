"""`registry export`: members, collector filings, risk events and complaints read from the
node's database into CSV that Excel in Chinese opens as is (BOM, Beijing times, names beside
ids, formula-looking text neutralised), with Chinese headers on request, or into XLSX that a
spreadsheet library reads back."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import asyncpg
import openpyxl
import pytest

from api import cli_export
from api.cli import main
from tests.support.client import SignedClient
from tests.support.factories import admit_member
from tests.support.people import filing_body, make_prc_id
from tests.support.whitelist import Cast, cast, traceable_number

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A name a spreadsheet would run as a formula if it were written as it is.
FORMULA_NAME = '=HYPERLINK("http://evil.example","点此")消费金融'
NUMBER = "13812340077"


@dataclass
class Records:
    cast: Cast
    formula_lender: SignedClient
    filing: dict[str, Any]
    id_number: str
    risk_event: dict[str, Any]
    complaint: dict[str, Any]


@pytest.fixture(scope="module")
async def records(operator: SignedClient) -> Records:
    c = await cast(operator)
    formula_lender = await admit_member(operator, "lender", name=FORMULA_NAME,
                                        subtype="consumer_finance_company")
    id_number = make_prc_id()
    filed = await c.agency.post("/v1/collector-filings", filing_body(id_number, name="王小明"))
    assert filed.status_code == 201, filed.text
    published = await operator.post(f"/v1/collector-filings/{filed.json()['id']}/review",
                                    {"decision": "publish", "reason": "证据充分"})
    assert published.status_code == 200, published.text
    reported = await formula_lender.post("/v1/risk-events", {
        "category": "violent_collection", "discovered_at": "2026-11-01T01:00:00Z",
        "summary": "-催收员威胁债务人"})
    assert reported.status_code == 201, reported.text
    await traceable_number(c, NUMBER)
    complained = await c.carrier.post("/v1/complaints", {
        "number": NUMBER, "received_at": "2026-11-02T02:30:00Z", "category": "abuse",
        "summary": "催收员辱骂投诉人"})
    assert complained.status_code == 201, complained.text
    # Second ones, so that an export reading one record a page must turn pages.
    again = await c.carrier.post("/v1/complaints", {
        "number": NUMBER, "received_at": "2026-11-03T02:30:00Z", "category": "frequency",
        "summary": "一天内来电多次"})
    assert again.status_code == 201, again.text
    second = await c.agency.post("/v1/collector-filings", filing_body(make_prc_id()))
    assert second.status_code == 201, second.text
    return Records(c, formula_lender, published.json(), id_number, reported.json(),
                   complained.json())


def export(database_url: str, *args: str) -> tuple[int, str]:
    """`registry export ARGS...` as the console script runs it, against the module's
    database; the exit status and what it said on stderr."""
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(err):
        patch.setenv("DATABASE_URL", database_url)
        code = main(["export", *args])
    return code, err.getvalue()


async def exported(database_url: str, tmp_path: Path, kind: str, *options: str
                   ) -> list[dict[str, str]]:
    """The CSV file's rows by header, after checking what makes Excel read it right."""
    out = tmp_path / f"{kind}.csv"
    code, said = await asyncio.to_thread(export, database_url, kind, "--out", str(out),
                                         *options)
    assert code == 0, said
    body = out.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8, not GBK
    assert b"\r\n" in body
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert f"{len(rows)} {kind} written to {out}" in said
    return rows


def beijing(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


async def test_members_with_field_names_codes_and_beijing_times(
    database_url: str, tmp_path: Path, records: Records, db: asyncpg.Connection,
) -> None:
    rows = await exported(database_url, tmp_path, "members")
    assert list(rows[0])[:6] == ["id", "name", "kind", "subtype", "uscc", "status"]
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {r["id"] for r in await db.fetch("SELECT id FROM members")}
    lender = by_id[records.formula_lender.id]
    # Quoted as text: Excel shows the name and never runs it.
    assert lender["name"] == "'" + FORMULA_NAME
    assert (lender["kind"], lender["subtype"], lender["status"]) == (
        "lender", "consumer_finance_company", "active")
    assert lender["status_changed_by_name"] == "测试操作员"
    assert lender["status_reason"] == "test set-up"
    assert lender["active_keys"] == "1"
    created = await db.fetchval("SELECT created_at FROM members WHERE id = $1", lender["id"])
    assert lender["created_at"] == beijing(created)
    assert lender["complaints_process"] == "三个工作日内答复"


async def test_members_with_chinese_headers_and_labels(
    database_url: str, tmp_path: Path, records: Records,
) -> None:
    rows = await exported(database_url, tmp_path, "members", "--chinese-headers")
    assert list(rows[0])[:6] == ["编号", "机构名称", "类型", "机构类别", "统一社会信用代码", "状态"]
    agency = next(r for r in rows if r["编号"] == records.cast.agency.id)
    assert (agency["类型"], agency["状态"], agency["变更人"]) == ("催收机构", "在册", "测试操作员")
    lender = next(r for r in rows if r["编号"] == records.formula_lender.id)
    assert lender["机构类别"] == "消费金融公司"
    assert lender["机构名称"] == "'" + FORMULA_NAME


async def test_collector_filings_masked_with_the_filer_named(
    database_url: str, tmp_path: Path, records: Records,
) -> None:
    out = tmp_path / "filings.csv"
    code, said = await asyncio.to_thread(export, database_url, "collector-filings",
                                         "--chinese-headers", "--out", str(out))
    assert code == 0, said
    body = out.read_bytes().decode("utf-8-sig")
    # Masks only: the id number is in no export, nor the full name.
    assert records.id_number not in body
    assert "王小明" not in body
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    filing = next(r for r in rows if r["编号"] == records.filing["id"])
    assert filing["报送机构编号"] == records.cast.agency.id
    agency = await records.cast.agency.get(f"/v1/members/{records.cast.agency.id}")
    assert filing["报送机构"] == agency.json()["name"]
    assert (filing["状态"], filing["报送机构类型"], filing["证件类型"]) == (
        "已发布", "催收机构", "居民身份证")
    assert filing["违规行为"] == "暴力、威胁或恐吓、骚扰无关第三方"
    assert filing["催收员姓名（脱敏）"] == records.filing["subject"]["name_masked"]
    assert filing["证件号码（脱敏）"] == records.filing["subject"]["id_masked"]
    assert (filing["最近处理理由"], filing["处理人"]) == ("证据充分", "测试操作员")
    published = datetime.fromisoformat(records.filing["published_at"])
    assert filing["发布时间"] == beijing(published)


async def test_risk_events_name_the_reporter_and_keep_beijing_times(
    database_url: str, tmp_path: Path, records: Records,
) -> None:
    rows = await exported(database_url, tmp_path, "risk-events")
    event = next(r for r in rows if r["id"] == records.risk_event["id"])
    assert event["reporter_id"] == records.formula_lender.id
    assert event["reporter_name"] == "'" + FORMULA_NAME
    assert event["category"] == "violent_collection"
    # 01:00 UTC is 09:00 in Beijing.
    assert event["discovered_at"] == "2026-11-01 09:00:00"
    assert event["summary"] == "'-催收员威胁债务人"
    assert event["late"] in ("yes", "no")
    chinese = await exported(database_url, tmp_path, "risk-events", "--chinese-headers")
    same = next(r for r in chinese if r["编号"] == records.risk_event["id"])
    assert (same["事件类别"], same["发现时间"]) == ("暴力催收", "2026-11-01 09:00:00")
    assert same["逾期报告"] in ("是", "否")


async def test_complaints_routed_by_name(
    database_url: str, tmp_path: Path, records: Records,
) -> None:
    rows = await exported(database_url, tmp_path, "complaints", "--chinese-headers")
    complaint = next(r for r in rows if r["编号"] == records.complaint["id"])
    names = {m["id"]: m["name"] for m in records.complaint["routed_to"]}
    assert set(names) == {records.cast.agency.id, records.cast.lender.id}
    assert set(complaint["转办对象"].split("、")) == set(names.values())
    assert complaint["提交机构编号"] == records.cast.carrier.id
    carrier = await records.cast.carrier.get(f"/v1/members/{records.cast.carrier.id}")
    assert complaint["提交机构"] == carrier.json()["name"]
    assert (complaint["来源"], complaint["投诉类别"], complaint["状态"]) == (
        "电信运营商", "辱骂、威胁", "未结")
    assert complaint["来电时间"] == "2026-11-02 10:30:00"
    # "+86…" would turn into a number (8.6E+12) or a formula: it stays text.
    assert complaint["被投诉号码"] == "'" + records.complaint["number"]


@pytest.mark.parametrize(("kind", "sheet"), [
    ("members", "成员"), ("collector-filings", "催收员报送"), ("risk-events", "风险事件"),
    ("complaints", "投诉")])
async def test_xlsx_reads_back_in_a_spreadsheet_library(
    database_url: str, tmp_path: Path, records: Records, kind: str, sheet: str,
) -> None:
    out = tmp_path / f"{kind}.xlsx"
    code, said = await asyncio.to_thread(export, database_url, kind, "--chinese-headers",
                                         "--out", str(out))
    assert code == 0, said
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [sheet]
    lines = [[c.value for c in row] for row in book[sheet].iter_rows()]
    assert lines[0][0] == "编号"
    ids = {line[0] for line in lines[1:]}
    expected = {"members": records.formula_lender.id, "collector-filings": records.filing["id"],
                "risk-events": records.risk_event["id"], "complaints": records.complaint["id"]}
    assert expected[kind] in ids
    assert book[sheet].freeze_panes == "A2"
    # Every cell is an inline string: nothing a spreadsheet would calculate.
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        xml = ElementTree.fromstring(  # noqa: S314 - the file this test has just written
            archive.read("xl/worksheets/sheet1.xml"))
    main_ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    assert xml.findall(f".//{main_ns}f") == []
    assert {c.get("t") for c in xml.iter(f"{main_ns}c")} == {"inlineStr"}


async def test_a_formula_looking_name_stays_text_in_xlsx(
    database_url: str, tmp_path: Path, records: Records,
) -> None:
    out = tmp_path / "members.xlsx"
    code, said = await asyncio.to_thread(export, database_url, "members", "--out", str(out))
    assert code == 0, said
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2)
               if r[0].value == records.formula_lender.id)
    name = row[header.index("name")]
    # Text as it was written, no quote mark needed: an inline string is never a formula.
    assert (name.value, name.data_type) == (FORMULA_NAME, "s")
    assert row[header.index("created_at")].value.count(":") == 2


async def test_csv_goes_to_stdout_and_xlsx_needs_a_file(
    database_url: str, records: Records, capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    code, said = await asyncio.to_thread(export, database_url, "members")
    assert code == 0, said
    body = capsysbinary.readouterr().out
    assert body.startswith(b"\xef\xbb\xbfid,name,")
    assert records.formula_lender.id.encode() in body
    code, said = await asyncio.to_thread(export, database_url, "members", "--format", "xlsx")
    assert (code, said.strip()) == (2, "error: an XLSX export needs --out FILE")


async def test_a_database_without_the_registry_is_one_clear_line(
    admin_dsn: str, tmp_path: Path,
) -> None:
    # The server's own maintenance database: reachable, but never migrated.
    code, said = await asyncio.to_thread(export, admin_dsn, "members", "--out",
                                         str(tmp_path / "x.csv"))
    assert code == 2
    assert said.strip().splitlines() == [
        "error: the database has no registry tables: run `registry migrate`"]
    assert not (tmp_path / "x.csv").exists()


async def test_lists_read_page_by_page_are_read_whole(
    database_url: str, tmp_path: Path, records: Records, db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_export, "_PAGE", 1)
    for kind, table in (("complaints", "complaints"), ("collector-filings", "collector_filings")):
        rows = await exported(database_url, tmp_path, kind)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        assert set(ids) == {r["id"] for r in await db.fetch(
            f"SELECT id FROM {table}")}, kind
        assert len(ids) >= 2
