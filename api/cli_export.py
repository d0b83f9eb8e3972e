"""`registry export KIND`: members, collector filings, risk events or complaints as a file
that opens as is in Excel set to Chinese (CSV with a BOM, or XLSX).

An administrator's command like `migrate` and `verify`: it reads the node's own database
(DATABASE_URL, or the embedded one under the data directory) with an operator's view, so it
needs no signing key and no running node, and what it writes is everything the operators
may read. Times are in Asia/Shanghai and names stand beside ids. Headers are field names
and codes stay codes (for programs), or with --chinese-headers Chinese headers and labels
(for people).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from api.console.i18n import labeller
from registry import db
from registry.actors import Actor
from registry.collectors import export as filing_export
from registry.collectors import store as filing_store
from registry.complaints import export as complaint_export
from registry.complaints import store as complaint_store
from registry.console.names import names_of
from registry.excel_csv import Column, Label, to_excel_csv
from registry.members import export as member_export
from registry.members import store as member_store
from registry.risk import export as risk_export
from registry.risk import store as risk_store
from registry.xlsx import to_xlsx

Row = TypeVar("Row")
Item = TypeVar("Item", covariant=True)
# The export reads as the operators do: every record, nothing scoped to one member.
_READER = Actor(id="registry-export", role="operator")
_PAGE = 500


class _Page(Protocol[Item]):
    """A page of any list the store pages with a cursor."""

    @property
    def items(self) -> Sequence[Item]: ...
    @property
    def next_cursor(self) -> str | None: ...


async def _every_page(fetch: Callable[[str | None], Awaitable[_Page[Row]]]) -> list[Row]:
    rows: list[Row] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        rows.extend(page.items)
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


@dataclass(frozen=True)
class Export(Generic[Row]):
    """One kind of record: how to read all of it, its columns, the ids its rows name."""

    sheet: str  # the sheet's name in an XLSX file (Chinese, as staff call the list)
    read: Callable[[db.Connection], Awaitable[list[Row]]]
    columns: Callable[[dict[str, str], Label], list[Column[Row]]]
    principals_named: Callable[[list[Row]], set[str]]


EXPORTS: dict[str, Export[Any]] = {
    "members": Export(
        "成员", member_store.all_members,
        member_export.columns, member_export.principals_named),
    "collector-filings": Export(
        "催收员报送", lambda conn: _every_page(
            lambda c: filing_store.list_filings(conn, _READER, cursor=c, limit=_PAGE)),
        filing_export.columns, filing_export.principals_named),
    "risk-events": Export(
        "风险事件", lambda conn: risk_store.events_between(conn, None, None),
        risk_export.columns, risk_export.principals_named),
    "complaints": Export(
        "投诉", lambda conn: _every_page(
            lambda c: complaint_store.list_complaints(conn, _READER, cursor=c, limit=_PAGE)),
        complaint_export.columns, complaint_export.principals_named),
}


def _codes(code: str | None) -> str:
    """A file for programs keeps codes as the API writes them."""
    return code or ""


async def render(dsn: str, kind: str, *, xlsx: bool, chinese: bool) -> tuple[bytes, int]:
    """The file's bytes and how many records it holds."""
    export = EXPORTS[kind]
    conn = await db.connect(dsn)
    try:
        rows = await export.read(conn)
        names = await names_of(conn, export.principals_named(rows))
    finally:
        await conn.close()
    columns = export.columns(names, labeller("zh") if chinese else _codes)
    if xlsx:
        return to_xlsx(columns, rows, sheet_name=export.sheet, english=not chinese), len(rows)
    return to_excel_csv(columns, rows, english=not chinese), len(rows)


def add_command(
    commands: Any, common: Callable[[argparse.ArgumentParser], None],
    database: Callable[[argparse.Namespace], Any],
) -> None:
    export = commands.add_parser(
        "export", help="members, collector filings, risk events or complaints as CSV or XLSX",
        description="Reads the node's database (DATABASE_URL or the embedded one). CSV has a "
        "UTF-8 BOM so that Excel in Chinese opens it as is; times are Asia/Shanghai.")
    export.add_argument("kind", choices=sorted(EXPORTS))
    export.add_argument("--out", help="the file to write (default: CSV on stdout)")
    export.add_argument("--format", choices=("csv", "xlsx"),
                        help="default: xlsx when --out ends in .xlsx, else csv")
    export.add_argument("--chinese-headers", action="store_true",
                        help="Chinese headers and labels (for people); by default the "
                        "headers are field names and codes stay codes (for programs)")
    common(export)

    def run(args: argparse.Namespace) -> int:
        out = Path(args.out) if args.out else None
        xlsx = (args.format or ("xlsx" if out and out.suffix.lower() == ".xlsx" else "csv")
                ) == "xlsx"
        if xlsx and out is None:
            print("error: an XLSX export needs --out FILE", file=sys.stderr)
            return 2
        with database(args) as dsn:
            try:
                body, count = asyncio.run(
                    render(dsn, args.kind, xlsx=xlsx, chinese=args.chinese_headers))
            except asyncpg.UndefinedTableError:
                print("error: the database has no registry tables: run `registry migrate`",
                      file=sys.stderr)
                return 2
        if out is None:
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
        else:
            out.write_bytes(body)
            print(f"{count} {args.kind} written to {out}", file=sys.stderr)
        return 0

    export.set_defaults(run=run)
