"""CSV that opens correctly in Excel set to Chinese: every export the registry offers uses it.

Excel guesses a CSV's encoding from a byte-order mark (without one it reads UTF-8 as
GBK and the Chinese turns to mojibake), splits rows on CRLF, and runs a cell that starts
with `=`, `+`, `-` or `@` as a formula (CSV injection). So the text starts with a BOM,
lines end in CRLF, such cells are quoted as text, times are shown in Asia/Shanghai as
Excel parses them (`2026-11-28 09:30:00`), and yes/no reads 是/否.

    COLUMNS = [Column("编号", lambda e: e.id), Column("上报时间", lambda e: e.reported_at)]
    body = to_excel_csv(COLUMNS, events)        # bytes, ready to send or write
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

from registry.trace.decision import SHANGHAI

MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
# A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Column(Generic[Row]):
    """One column: its header as the reader sees it, and how a row gives its value."""

    header: str
    value: Callable[[Row], object]


def cell(value: object) -> str:
    """A value as Excel in Chinese should show it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes have no place in an export: give a time zone")
        return value.astimezone(SHANGHAI).strftime(_TIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "、".join(cell(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_excel_csv(columns: Sequence[Column[Row]], rows: Iterable[Row]) -> bytes:
    """The header line and one line per row, UTF-8 with a BOM, CRLF line ends."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow([cell(c.value(row)) for c in columns])
    return out.getvalue().encode("utf-8")
