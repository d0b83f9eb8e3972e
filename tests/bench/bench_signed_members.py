"""Signed GET /v1/members/{id} against unsigned /healthz of the same served node (issue 2).

    .venv/bin/python -m tests.bench.bench_signed_members [--seconds 10] [--rounds 3]

Serves the node as the README does (`registry serve --workers 2`) on a fresh database of
the local PostgreSQL (or TEST_DATABASE_URL's server), and loads it with wrk from a second
process: rounds alternate healthz and signed runs; medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
from pathlib import Path

import asyncpg
import httpx
import msgspec

from registry.db import connect
from registry.migrate import migrate
from registry.principals import create_operator
from tests.bench.loadgen import median, served_node, write_tokens, wrk
from tests.support.database import postgres_server, with_database
from tests.support.factories import member_body
from tests.support.signing import Signer

NODE = "node-bench"


async def _prepare(admin_dsn: str) -> tuple[str, Signer]:
    name = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(admin_dsn, name)
    conn = await connect(dsn)
    await migrate(conn)
    made = await create_operator(conn, "bench")
    await conn.close()
    return dsn, Signer(made.id, made.kid, made.private_key, NODE)


def _admit(base: str, operator: Signer) -> Signer:
    member = Signer.new_ed25519("pending", NODE)
    body = msgspec.json.encode(member_body("lender", member))
    answer = httpx.post(f"{base}/v1/members", content=body,
                        headers=operator.headers("POST", "/v1/members", body))
    answer.raise_for_status()
    member.principal_id = answer.json()["id"]
    target = f"/v1/members/{member.principal_id}/status"
    body = msgspec.json.encode({"status": "active", "reason": "bench"})
    httpx.post(base + target, content=body,
               headers=operator.headers("POST", target, body)).raise_for_status()
    return member


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=150_000, help="signed tokens per round")
    args = parser.parse_args()

    with postgres_server() as admin_dsn:
        dsn, operator = asyncio.run(_prepare(admin_dsn))
        with served_node(dsn, workers=2, node_id=NODE) as base:
            member = _admit(base, operator)
            target = f"/v1/members/{member.principal_id}"
            health, signed = [], []
            tmp = Path(tempfile.mkdtemp(prefix="bench-tokens-"))
            for n in range(args.rounds):
                health.append(wrk(f"{base}/healthz", args.seconds, args.connections))
                tokens = tmp / f"round{n}.txt"
                write_tokens(member, "GET", target, args.tokens, tokens)
                signed.append(wrk(base + target, args.seconds, args.connections, tokens=tokens))
            for label, runs in (("healthz (unsigned)", health), ("GET member (signed)", signed)):
                rates = [r.requests_per_second for r in runs]
                print(f"{label:22} req/s median {median(rates):8.0f}  runs "
                      f"{', '.join(f'{r:.0f}' for r in rates)}  p50 "
                      f"{median([r.p50_ms for r in runs]):.2f} ms  p99 "
                      f"{median([r.p99_ms for r in runs]):.2f} ms  non-2xx "
                      f"{sum(r.non_2xx for r in runs)}")
            ratio = median([r.requests_per_second for r in signed]) / median(
                [r.requests_per_second for r in health])
            print(f"signed / healthz ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
