"""A minimal XLSX workbook (one sheet of text cells) from the same columns as the CSV export.

An XLSX file is a zip of a few XML parts (ECMA-376, SpreadsheetML); a sheet of inline
strings needs five of them, so the standard library writes it and no spreadsheet package
is a dependency of the node. Every cell is an inline string: a value that looks like a
formula stays text, which is the XLSX form of the CSV export's formula guard. The header
row is bold and frozen, as a person scrolling a long export expects.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from registry.excel_csv import Column, Row, table

_SPREADSHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
MEDIA_TYPE = f"{_SPREADSHEETML}.sheet"
# Excel refuses a cell longer than this; longer text is cut with a mark that says so.
MAX_CELL = 32_767
# Characters XML 1.0 cannot carry at all (control codes other than tab and line ends).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_CONTENT_TYPES = f"""{_HEAD}<Types
 xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels"
 ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="{MEDIA_TYPE}.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml"
 ContentType="{_SPREADSHEETML}.worksheet+xml"/>
<Override PartName="/xl/styles.xml" ContentType="{_SPREADSHEETML}.styles+xml"/>
</Types>"""
_ROOT_RELS = f"""{_HEAD}<Relationships xmlns="{_PKG_REL}">
<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
_WORKBOOK_RELS = f"""{_HEAD}<Relationships xmlns="{_PKG_REL}">
<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>
</Relationships>"""
# Style 0 is plain, style 1 bold (the header row).
_STYLES = f"""{_HEAD}<styleSheet xmlns="{_MAIN}">
<fonts count="2">
 <font><sz val="11"/><name val="Calibri"/></font>
 <font><b/><sz val="11"/><name val="Calibri"/></font>
</fonts>
<fills count="2">
 <fill><patternFill patternType="none"/></fill>
 <fill><patternFill patternType="gray125"/></fill>
</fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="2">
 <xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
 <xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a column's name in a cell reference."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _text(value: str) -> str:
    value = _NOT_XML.sub("\ufffd", value)
    if len(value) > MAX_CELL:
        value = value[: MAX_CELL - 1] + "…"
    return escape(value)


def _row(number: int, cells: list[str], style: int) -> str:
    styled = f' s="{style}"' if style else ""
    shown = "".join(
        f'<c r="{column_letters(i)}{number}" t="inlineStr"{styled}>'
        f'<is><t xml:space="preserve">{_text(value)}</t></is></c>'
        for i, value in enumerate(cells) if value)
    return f'<row r="{number}">{shown}</row>'


def _sheet(lines: Iterable[list[str]]) -> str:
    rows = "".join(_row(n, cells, 1 if n == 1 else 0) for n, cells in enumerate(lines, 1))
    frozen = ('<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2"'
              ' activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>')
    return f'{_HEAD}<worksheet xmlns="{_MAIN}">{frozen}<sheetData>{rows}</sheetData></worksheet>'


def _workbook(sheet_name: str) -> str:
    # Excel's rules for a sheet name: at most 31 characters, none of []:*?/\
    name = escape(re.sub(r"[\[\]:*?/\\]", " ", sheet_name)[:31] or "Sheet1", {'"': "&quot;"})
    return (f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            f'<sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>')


def to_xlsx(
    columns: Sequence[Column[Row]], rows: Iterable[Row], *, sheet_name: str,
    english: bool = False,
) -> bytes:
    """The header row and one row per record, as one sheet named `sheet_name`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _workbook(sheet_name))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        archive.writestr("xl/worksheets/sheet1.xml", _sheet(
            table(columns, rows, english=english, guard_formulas=False)))
    return out.getvalue()
