"""`registry import resources FILE.csv`: a carrier supplies numbers in bulk through the API.

Rows go in batches of at most 1000 (each all or nothing on the node). A batch the node
refuses row by row (422 naming `items[i]`) is sent again without those rows, which go to
the report file. Progress is kept beside the CSV file, so an interrupted import resumes
where it stopped: a batch that was in flight when the import died is looked up by its
first number (was it supplied, by us?) before it is sent again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from registry.resources.model import ResourceSupply

COLUMNS = ("kind", "value", "assignee_id", "valid_from", "valid_to")
_ITEM = re.compile(r"^items\[(\d+)\]\.?(.*)$")


@dataclass
class Row:
    line: int  # the line in the CSV file, header = 1
    values: dict[str, str]


class Progress(msgspec.Struct):
    done: int = 0  # data rows handled (supplied or reported)
    in_flight: list[Any] | None = None  # [start, end, first value sent]


def _load_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8-sig", newline="") as source:
        reader = csv.DictReader(source)
        header = reader.fieldnames or []
        missing = [c for c in ("kind", "value", "assignee_id") if c not in header]
        if missing:
            raise ValueError(f"{path}: the header lacks {', '.join(missing)}")
        return [Row(n, {k: (v or "").strip() for k, v in row.items() if k in COLUMNS})
                for n, row in enumerate(reader, start=2)]


class Ledger:
    """The progress file and the report of refused rows, both beside the CSV file."""

    def __init__(self, csv_path: Path, report: Path | None) -> None:
        self.state_path = csv_path.with_name(csv_path.name + ".progress")
        self.report_path = report or csv_path.with_name(csv_path.name + ".errors.csv")
        self.progress = (msgspec.json.decode(self.state_path.read_bytes(), type=Progress)
                         if self.state_path.exists() else Progress())
        self.reported: set[int] = set()
        if self.report_path.exists():
            with self.report_path.open(encoding="utf-8-sig", newline="") as old:
                self.reported = {int(r["line"]) for r in csv.DictReader(old)}

    def save(self) -> None:
        # Written whole and renamed: a crash leaves the old state or the new, never half.
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_bytes(msgspec.json.encode(self.progress))
        os.replace(temporary, self.state_path)

    def refuse(self, row: Row, field: str, message: str) -> None:
        if row.line in self.reported:
            return
        new = not self.report_path.exists()
        with self.report_path.open("a", encoding="utf-8-sig" if new else "utf-8",
                                   newline="") as out:
            writer = csv.writer(out)
            if new:
                writer.writerow(["line", "value", "field", "message"])
            writer.writerow([row.line, row.values.get("value", ""), field, message])
        self.reported.add(row.line)


def _supply(row: Row) -> ResourceSupply:
    fields: dict[str, Any] = {k: v for k, v in row.values.items() if v}
    return msgspec.convert(fields, ResourceSupply)


def _already_supplied(client: Any, value: str) -> bool:
    """Whether a batch that died in flight reached the node: its first number is ours."""
    from registry_client import calls

    answer = client.send(calls.trace(value))
    return bool(answer.reason != "unregistered" and answer.supplier is not None
                and answer.supplier.id == client.principal_id)


def _send_batch(client: Any, ledger: Ledger, rows: list[Row]) -> int:
    """Supply `rows` (refusing the bad ones into the report); the number supplied."""
    from registry_client import ProblemError, calls

    batch: list[tuple[Row, ResourceSupply]] = []
    for row in rows:
        try:
            batch.append((row, _supply(row)))
        except (msgspec.ValidationError, TypeError) as exc:
            ledger.refuse(row, "row", str(exc))
    while batch:
        start = ledger.progress.done
        ledger.progress.in_flight = [start, start + len(rows), batch[0][1].value]
        ledger.save()
        try:
            client.send(calls.supply_batch([s for _, s in batch]))
            return len(batch)
        except ProblemError as refused:
            named = [(_ITEM.match(e.field), e) for e in refused.problem.errors]
            bad = {int(m.group(1)): (m.group(2), e.message) for m, e in named if m}
            if refused.code != "invalid" or not bad:
                raise
            for index, (field, message) in bad.items():
                ledger.refuse(batch[index][0], field or "item", message)
            batch = [pair for i, pair in enumerate(batch) if i not in bad]
    return 0


def import_resources(client: Any, path: Path, report: Path | None, size: int) -> dict[str, int]:
    from rich.progress import Progress as Bar

    rows = _load_rows(path)
    ledger = Ledger(path, report)
    flight = ledger.progress.in_flight
    if flight is not None:
        start, end, first = flight
        ledger.progress.done = end if _already_supplied(client, first) else start
        ledger.progress.in_flight = None
        ledger.save()
    supplied = 0
    with Bar(transient=False) as bar:
        task = bar.add_task("supplying", total=len(rows), completed=ledger.progress.done)
        while ledger.progress.done < len(rows):
            chunk = rows[ledger.progress.done:ledger.progress.done + size]
            supplied += _send_batch(client, ledger, chunk)
            ledger.progress.done += len(chunk)
            ledger.progress.in_flight = None
            ledger.save()
            bar.update(task, completed=ledger.progress.done)
    return {"rows": len(rows), "supplied_now": supplied, "refused": len(ledger.reported)}


def cmd_import_resources(args: argparse.Namespace) -> int:
    import httpx

    from registry_client import Client, ProblemError, load_private_key

    try:
        key = load_private_key(Path(args.key))
        with Client(args.url, principal_id=args.principal, key=key, kid=args.kid) as client:
            summary = import_resources(client, Path(args.file),
                                       Path(args.report) if args.report else None,
                                       min(args.batch, 1000))
    except ProblemError as exc:
        print(f"error: the node refused a batch: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, httpx.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


def add_commands(commands: Any) -> None:
    importing = commands.add_parser("import", help="supply records in bulk from a file")
    kinds = importing.add_subparsers(dest="import_kind", required=True)
    resources = kinds.add_parser(
        "resources", help="a carrier's numbers from CSV (kind,value,assignee_id,...)",
        description="Supply numbers from a CSV file with the header kind,value,assignee_id"
        "[,valid_from,valid_to], in batches of 1000, resumable: run it again after an "
        "interruption. Refused rows go to FILE.errors.csv.")
    resources.add_argument("file", metavar="FILE.csv")
    resources.add_argument("--url", required=True, help="the node's base URL")
    resources.add_argument("--as", dest="principal", required=True, metavar="CARRIER_ID")
    resources.add_argument("--key", required=True, metavar="PEM")
    resources.add_argument("--kid", help="the key's id (default: its thumbprint)")
    resources.add_argument("--report", help="refused rows (default: FILE.csv.errors.csv)")
    resources.add_argument("--batch", type=int, default=1000, help="rows a request (<= 1000)")
    resources.set_defaults(run=cmd_import_resources)
