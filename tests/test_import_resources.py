"""`registry import resources`: 10,000 rows through a served node, killed part-way and
resumed; every good row supplied exactly once, every bad row in the report once."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from registry.db import connect
from registry.principals import create_operator
from registry.signing_keys import write_private_key
from registry_client import Client, Signer, calls, models
from tests.support.factories import member_body
from tests.support.served import ServedNode, served_registry

NODE = "node-import"
ROWS = 10_000
BAD = {17: "not-a-number", 2503: "", 5004: "+86 12", 9999: "abc"}  # row index -> value


@pytest.fixture(scope="module")
def node(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    with served_registry(tmp_path_factory.mktemp("import-node"), database_url=database_url,
                         node_id=NODE) as served:
        yield served


def _admit(operator: Client, kind: str, signer: Signer) -> str:
    body = msgspec.convert(member_body(kind, None, keys=[signer.public_jwk]),
                           models.MemberCreate)
    made = operator.send(calls.add_member(body))
    operator.send(calls.set_member_status(made.id, "active", "导入测试"))
    return made.id


def _import(node: ServedNode, carrier: str, key: Path, sheet: Path
            ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "import", "resources", str(sheet), "--url",
         node.base, "--as", carrier, "--key", str(key), "--kid", "k1", "--batch", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_ten_thousand_rows_interrupted_and_resumed(
    node: ServedNode, database_url: str, tmp_path: Path,
) -> None:
    conn = await connect(database_url)
    try:
        made = await create_operator(conn, "导入操作员")
        with Client(node.base, principal_id=made.id, key=made.private_key,
                    kid=made.kid) as operator:
            carrier_key = Signer.new_ed25519("-", NODE)
            carrier = _admit(operator, "carrier", carrier_key)
            agency = _admit(operator, "collection_agency", Signer.new_ed25519("-", NODE))
        write_private_key(tmp_path / "carrier.pem", carrier_key.key)  # type: ignore[arg-type]

        sheet = tmp_path / "号码.csv"
        with sheet.open("w", encoding="utf-8-sig", newline="") as written:
            writer = csv.writer(written)
            writer.writerow(["kind", "value", "assignee_id", "valid_from"])
            for i in range(ROWS):
                writer.writerow(["voice", BAD.get(i, f"+86135{i:08d}"), agency,
                                 "2026-01-01T00:00:00+08:00"])

        first = _import(node, carrier, tmp_path / "carrier.pem", sheet)
        progress = sheet.with_name(sheet.name + ".progress")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and first.poll() is None:
            if progress.exists() and json.loads(progress.read_text())["done"] >= 2000:
                break
            await asyncio.sleep(0.05)
        assert first.poll() is None, first.communicate()
        os.kill(first.pid, signal.SIGKILL)  # as a power cut would: no clean-up at all
        first.communicate()
        stopped_at = json.loads(progress.read_text())["done"]
        assert 2000 <= stopped_at < ROWS

        second = _import(node, carrier, tmp_path / "carrier.pem", sheet)
        out, err = second.communicate(timeout=600)
        assert second.returncode == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["rows"] == ROWS
        assert summary["refused"] == len(BAD)

        supplied = await conn.fetch(
            "SELECT value FROM resources WHERE supplier_id = $1", carrier)
        assert len(supplied) == ROWS - len(BAD)
        assert {r["value"] for r in supplied} == {
            f"+86135{i:08d}" for i in range(ROWS) if i not in BAD}
        with sheet.with_name(sheet.name + ".errors.csv").open(encoding="utf-8-sig") as report:
            refused = list(csv.DictReader(report))
        assert sorted(int(r["line"]) for r in refused) == sorted(i + 2 for i in BAD)
        assert all(r["message"] for r in refused)

        again = _import(node, carrier, tmp_path / "carrier.pem", sheet)
        out, _ = again.communicate(timeout=120)
        assert json.loads(out.strip().splitlines()[-1])["supplied_now"] == 0
    finally:
        await conn.close()
