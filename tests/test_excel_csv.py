"""The Excel-friendly CSV writer every export uses: BOM, CRLF, Beijing times, formula guard;
and the XLSX writer beside it."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from xml.etree import ElementTree

import pytest

from registry.excel_csv import Column, cell, table, to_excel_csv
from registry.xlsx import MAX_CELL, column_letters, to_xlsx

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def test_cells_read_as_excel_in_chinese_shows_them() -> None:
    assert cell(None) == ""
    assert (cell(True), cell(False)) == ("是", "否")
    # 01:30 UTC is 09:30 in Beijing, written as Excel parses a date and time.
    assert cell(datetime(2026, 11, 28, 1, 30, tzinfo=UTC)) == "2026-11-28 09:30:00"
    assert cell(date(2026, 1, 2)) == "2026-01-02"
    assert cell(["甲", "乙"]) == "甲、乙"
    assert cell(42) == "42"
    for formula in ("=1+1", "+86", "-2", "@SUM(A1)", "\tx"):
        assert cell(formula) == "'" + formula
    with pytest.raises(ValueError, match="time zone"):
        cell(datetime(2026, 1, 1))


def test_the_file_starts_with_a_bom_and_round_trips() -> None:
    rows = [("m_1", "某某消费金融有限公司", "a,\"quoted\"\nline"), ("m_2", "乙", None)]
    columns: list[Column[tuple[str, str, str | None]]] = [
        Column("编号", lambda r: r[0]), Column("名称", lambda r: r[1]),
        Column("备注", lambda r: r[2])]
    body = to_excel_csv(columns, rows)
    assert body.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in body
    parsed = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert parsed == [["编号", "名称", "备注"],
                      ["m_1", "某某消费金融有限公司", "a,\"quoted\"\nline"],
                      ["m_2", "乙", ""]]


def test_files_for_programs_take_field_names_and_english_yes_no() -> None:
    columns: list[Column[tuple[str, bool]]] = [
        Column("编号", lambda r: r[0], "id"), Column("逾期", lambda r: r[1], "late"),
        Column("备注", lambda r: None)]
    body = to_excel_csv(columns, [("=x", True)], english=True)
    parsed = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    # A column without a field name keeps its Chinese header.
    assert parsed == [["id", "late", "备注"], ["'=x", "yes", ""]]
    assert list(table(columns, [("=x", False)], guard_formulas=False)) == [
        ["编号", "逾期", "备注"], ["=x", "否", ""]]


def test_xlsx_cell_references_and_text_xml_cannot_carry() -> None:
    assert [column_letters(i) for i in (0, 25, 26, 51, 701, 702)] == [
        "A", "Z", "AA", "AZ", "ZZ", "AAA"]
    long = "长" * (MAX_CELL + 10)
    columns: list[Column[str]] = [Column("文本", lambda r: r, "text")]
    book = to_xlsx(columns, ["a\x00b\x1fc", long, "<&>"], sheet_name="a/b:c*d?[e]" * 4)
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        sheet = ElementTree.fromstring(  # noqa: S314 - written by the line above
            archive.read("xl/worksheets/sheet1.xml"))
        workbook = archive.read("xl/workbook.xml").decode()
    texts = [t.text for t in sheet.iter(f"{_MAIN}t")]
    assert texts[1:3] == ["a\ufffdb\ufffdc", "长" * (MAX_CELL - 1) + "…"]
    assert texts[3] == "<&>"
    # Excel's sheet-name rules: 31 characters at most, none of []:*?/\
    assert 'name="' + "a b c d  e " * 2 + 'a b c d  " ' in workbook
