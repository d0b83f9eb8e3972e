"""Bulk onboarding through the signed API against PostgreSQL's own COPY (issue 14).

A carrier supplies N numbers to an agency in batches of 1,000 (`POST /v1/resources/batch`)
and the agency confirms them in batches of 1,000 (`POST /v1/resources/confirm`), on
`registry serve --workers 2`: once by one client doing both in turn, once by the two
members each at its own pace (the agency confirming each batch as it is supplied); then,
in the same run and the same database, COPY writes the equivalent rows (a resource, a
confirmation and their two change-log entries per number) into copies of those tables.
All are quoted as numbers per second.

    .venv/bin/python -m tests.bench.bench_onboarding [--numbers 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import msgspec

from registry.db import connect
from registry.migrate import migrate
from registry.principals import create_operator
from tests.bench.bench_trace import ADMIN, _admin
from tests.support.database import with_database
from tests.support.factories import member_body
from tests.support.served import served_registry
from tests.support.signing import Signer

NODE = "node-bench"
BATCH = 1000


class Caller:
    def __init__(self, http: httpx.AsyncClient, signer: Signer) -> None:
        self.http, self.signer = http, signer

    async def post(self, target: str, body: object) -> httpx.Response:
        raw = msgspec.json.encode(body)
        headers = {**self.signer.headers("POST", target, raw),
                   "Content-Type": "application/json"}
        return await self.http.post(target, content=raw, headers=headers)


async def _member(operator: Caller, kind: str) -> Caller:
    signer = Signer.new_ed25519("pending", NODE)
    made = await operator.post("/v1/members", member_body(kind, signer))
    assert made.status_code == 201, made.text
    signer.principal_id = made.json()["id"]
    done = await operator.post(f"/v1/members/{signer.principal_id}/status",
                               {"status": "active", "reason": "bench"})
    assert done.status_code == 200, done.text
    return Caller(operator.http, signer)


async def through_api(base: str, dsn: str, numbers: int, first: int,
                      apart: bool = False) -> float:
    """Numbers supplied and confirmed a second: by one client doing both in turn, or
    (`apart`) by the carrier and the agency each at its own pace, as two members'
    importers run: the agency confirms each batch as it is supplied."""
    conn = await connect(dsn)
    made = await create_operator(conn, f"bench {first}")
    await conn.close()
    async with httpx.AsyncClient(base_url=base, timeout=120) as http, \
            httpx.AsyncClient(base_url=base, timeout=120) as other:
        operator = Caller(http, Signer(made.id, made.kid, made.private_key, NODE))
        carrier = await _member(operator, "carrier")
        agency = await _member(operator, "collection_agency")
        if apart:
            agency = Caller(other, agency.signer)
        supplied: asyncio.Queue[list[str] | None] = asyncio.Queue()

        async def supply() -> None:
            for start in range(0, numbers, BATCH):
                items = [{"kind": "voice", "value": f"+86139{first + n:08d}",
                          "assignee_id": agency.signer.principal_id}
                         for n in range(start, min(numbers, start + BATCH))]
                answer = await carrier.post("/v1/resources/batch", {"items": items})
                assert answer.status_code == 201, answer.text
                await supplied.put(answer.json()["ids"])
                if not apart:
                    await confirm()
            await supplied.put(None)

        async def confirm() -> None:
            while (ids := await supplied.get()) is not None:
                answer = await agency.post("/v1/resources/confirm", {"ids": ids})
                assert answer.status_code == 200, answer.text
                if not apart:
                    return

        started = time.perf_counter()
        await asyncio.gather(supply(), *([confirm()] if apart else []))
        return numbers / (time.perf_counter() - started)


async def by_copy(dsn: str, numbers: int) -> float:
    """The same rows (per number: a resource, a confirmation, two log entries) by COPY."""
    conn = await asyncpg.connect(dsn)
    try:
        for table in ("resources", "resource_confirmations", "change_log"):
            await conn.execute(f"CREATE TEMP TABLE copy_{table} (LIKE {table} INCLUDING ALL)")
        digest, now = "ab" * 32, datetime.now(UTC)
        started = time.perf_counter()
        await conn.copy_records_to_table("copy_resources", records=[
            (f"r_copy{n}", NODE, "voice", f"+86138{n:08d}", "m_c", "m_a", now, None, now, now)
            for n in range(numbers)], columns=["id", "origin", "kind", "value", "supplier_id",
                                               "assignee_id", "valid_from", "valid_to",
                                               "created_at", "updated_at"])
        await conn.copy_records_to_table("copy_resource_confirmations", records=[
            (f"c_copy{n}", NODE, f"r_copy{n}", "m_a") for n in range(numbers)],
            columns=["id", "origin", "resource_id", "member_id"])
        await conn.copy_records_to_table("copy_change_log", records=[
            (NODE, n + 1, "resource", f"r_copy{n}", "upsert", '{"id":"r"}', digest, digest,
             digest) for n in range(2 * numbers)],
            columns=["origin", "seq", "type", "record_id", "op", "data", "data_hash", "prev",
                     "hash"])
        return numbers / (time.perf_counter() - started)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    name = f"bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = with_database(ADMIN, name)
    workdir = Path(tempfile.mkdtemp(prefix="bench-onboarding-"))
    try:
        async def prepare() -> None:
            conn = await asyncpg.connect(dsn)
            await migrate(conn)
            await conn.close()
        asyncio.run(prepare())
        with served_registry(workdir, database_url=dsn, node_id=NODE, workers=2) as node:
            turn, apart, copy = [], [], []
            for run in range(args.runs):
                first = 2 * run * args.numbers
                turn.append(asyncio.run(through_api(node.base, dsn, args.numbers, first)))
                apart.append(asyncio.run(through_api(node.base, dsn, args.numbers,
                                                     first + args.numbers, apart=True)))
                copy.append(asyncio.run(by_copy(dsn, args.numbers)))
                print(f"run {run + 1}: signed API supply + confirm {turn[-1]:,.0f} numbers/s"
                      f" by one client in turn ({turn[-1] / copy[-1]:.3f} x), "
                      f"{apart[-1]:,.0f} numbers/s by carrier and agency apart "
                      f"({apart[-1] / copy[-1]:.3f} x); COPY of the same rows "
                      f"{copy[-1]:,.0f} numbers/s", flush=True)
        t, a, c = (statistics.median(turn), statistics.median(apart),
                   statistics.median(copy))
        print(f"medians of {args.runs} runs of {args.numbers:,} numbers: COPY {c:,.0f}/s; "
              f"API in turn {t:,.0f}/s = {t / c:.3f} x, carrier and agency apart "
              f"{a:,.0f}/s = {a / c:.3f} x (target >= 0.10)")
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
