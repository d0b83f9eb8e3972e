"""CSV that opens correctly in Excel set to Chinese: every export the registry offers uses it.

Excel guesses a CSV's encoding from a byte-order mark (without one it reads UTF-8 as
GBK and the Chinese turns to mojibake), splits rows on CRLF, and runs a cell that starts
with `=`, `+`, `-` or `@` as a formula (CSV injection). So the text starts with a BOM,
lines end in CRLF, such cells are quoted as text, times are shown in Asia/Shanghai as
Excel parses them (`2026-11-28 09:30:00`), and yes/no reads 是/否.

    COLUMNS = [Column("编号", lambda e: e.id, "id"),
               Column("上报时间", lambda e: e.reported_at, "reported_at")]
    body = to_excel_csv(COLUMNS, events)        # bytes, ready to send or write

Each column also has an English field name: `english=True` heads the file with those
(for programs that read it) and writes yes/no as `yes`/`no`. `table()` gives the same
cells to other writers (registry/xlsx.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

from registry.trace.decision import SHANGHAI

# The text is UTF-8; the web framework adds `; charset=utf-8` itself to a text/ type
# (given here too, the header said it twice).
MEDIA_TYPE = "text/csv"
BOM = "\ufeff"
# A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

Row = TypeVar("Row")
# A code's label in the export's language (a kind, a status): Chinese for Excel readers,
# the code itself in a file for programs.
Label = Callable[[str | None], str]


def namer(names: Mapping[str, str]) -> Callable[[str | None], str]:
    """A principal's name from the id a record cites (names beside ids), "" when unknown."""

    def name(principal_id: str | None) -> str:
        return names.get(principal_id, "") if principal_id else ""

    return name


@dataclass(frozen=True, slots=True)
class Column(Generic[Row]):
    """One column: its header as the reader sees it, and how a row gives its value;
    `name` is the header in English (a field name) for files that programs read."""

    header: str
    value: Callable[[Row], object]
    name: str = ""


def text(value: object, *, english: bool = False) -> str:
    """A value as Excel in Chinese should show it, before any formula guard."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if english:
            return "yes" if value else "no"
        return "是" if value else "否"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes have no place in an export: give a time zone")
        return value.astimezone(SHANGHAI).strftime(_TIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "、".join(text(v, english=english) for v in value)
    return str(value)


def cell(value: object, *, english: bool = False) -> str:
    """A CSV cell: the text, quoted as text where a spreadsheet would run it as a formula."""
    shown = text(value, english=english)
    return "'" + shown if shown.startswith(_FORMULA_START) else shown


def table(
    columns: Sequence[Column[Row]], rows: Iterable[Row], *, english: bool = False,
    guard_formulas: bool = True,
) -> Iterator[list[str]]:
    """The header line, then one line of cells per row. A writer whose cells can only be
    text (XLSX inline strings) has no formulas to guard against and keeps the text as is."""
    yield [(c.name or c.header) if english else c.header for c in columns]
    shown = cell if guard_formulas else text
    for row in rows:
        yield [shown(c.value(row), english=english) for c in columns]


def to_excel_csv(
    columns: Sequence[Column[Row]], rows: Iterable[Row], *, english: bool = False
) -> bytes:
    """The header line and one line per row, UTF-8 with a BOM, CRLF line ends."""
    out = io.StringIO()
    out.write(BOM)
    csv.writer(out, lineterminator="\r\n").writerows(table(columns, rows, english=english))
    return out.getvalue().encode("utf-8")
