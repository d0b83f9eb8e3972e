"""The Excel-friendly CSV writer every export uses: BOM, CRLF, Beijing times, formula guard."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from registry.excel_csv import Column, cell, to_excel_csv


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
