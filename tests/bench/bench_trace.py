"""The node under load, served as the README serves it (`registry serve --workers 2`):
signed single GET traces per second and p99 at 32 connections, beside the same server's
unsigned /healthz and pgbench's primary-key SELECT on the same data; batch trace numbers
per second; resident memory per worker.

    .venv/bin/python -m tests.bench.bench_trace [--numbers 1000000] [--seconds 10] [--runs 3]

Loads 1,000,000 voice numbers, 10,000 blocks and 5,000 members (with their entrustments,
confirmations, filings and hash-chained change log) into a fresh database on
BENCH_ADMIN_DSN (default: the local PostgreSQL) by COPY, then drives the node with wrk.
Each signed request carries its own pre-signed token (a jti is single-use).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import msgspec

from api.embedded_pg import client_tool
from registry.canonical import canonical
from registry.changelog import GENESIS, Change, chain
from registry.migrate import migrate
from tests.bench.bench_index import Entry, member_id, number, world
from tests.bench.loadgen import WrkResult, _parse, wrk
from tests.support.database import with_database
from tests.support.signing import Signer

ADMIN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
NODE = "node-bench"
CHUNK = 100_000
LUA = """
local lines, i = {}, 0
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  method = args[1]
  if args[3] then body = io.open(args[3]):read("*a") end
  for line in io.lines(args[2] .. "." .. tid) do
    -- path, token and (optionally) a body of its own: a token binds its body
    local path, token, own = line:match("([^\\t]+)\\t([^\\t]+)\\t?(.*)")
    lines[#lines + 1] = {path, token, own ~= "" and own or body}
  end
end
function request()
  i = i + 1
  if i > #lines then return wrk.format(method, "/exhausted") end
  return wrk.format(method, lines[i][1], {["Authorization"] = "Bearer " .. lines[i][2],
                                          ["Content-Type"] = "application/json"}, lines[i][3])
end
"""


# ---- loading ---------------------------------------------------------------------------

def rows_of(entries: list[Entry]) -> dict[str, list[tuple[Any, ...]]]:
    from datetime import date, datetime

    def moment(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text)

    tables: dict[str, list[tuple[Any, ...]]] = {
        "members": [], "entrustments": [], "resources": [], "resource_confirmations": [],
        "resource_filings": []}
    for origin, _, type, record_id, d in entries:
        assert d is not None
        if type == "member":
            tables["members"].append((record_id, origin, d["kind"], d["name"], d["uscc"],
                                      d["status"], msgspec.json.encode(d["complaints"]).decode()))
        elif type == "entrustment":
            tables["entrustments"].append((record_id, origin, d["lender_id"], d["agency_id"],
                                           date.fromisoformat(d["starts_on"]),
                                           date.fromisoformat(d["ends_on"])))
        elif type == "resource":
            tables["resources"].append((record_id, origin, d["kind"], d["value"],
                                        d["supplier_id"], d["assignee_id"],
                                        moment(d["valid_from"]), moment(d["valid_to"])))
        elif type == "resource_confirmation":
            tables["resource_confirmations"].append((record_id, origin, d["resource_id"],
                                                     d["member_id"]))
        else:
            tables["resource_filings"].append((record_id, origin, d["resource_id"],
                                               d["entrustment_id"], d["lender_id"]))
    return tables


COLUMNS = {
    "members": ["id", "origin", "kind", "name", "uscc", "status", "complaints"],
    "entrustments": ["id", "origin", "lender_id", "agency_id", "starts_on", "ends_on"],
    "resources": ["id", "origin", "kind", "value", "supplier_id", "assignee_id", "valid_from",
                  "valid_to"],
    "resource_confirmations": ["id", "origin", "resource_id", "member_id"],
    "resource_filings": ["id", "origin", "resource_id", "entrustment_id", "lender_id"],
}


def chunks(entries: Iterator[Entry]) -> Iterator[list[Entry]]:
    chunk: list[Entry] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def load(dsn: str, numbers: int, signer: Signer) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO node_identity (node_id) VALUES ($1)", NODE)
        await conn.execute("SET synchronous_commit = off")
        seq, head = 0, GENESIS
        for chunk in chunks(world(numbers, origin=NODE)):
            for table, records in rows_of(chunk).items():
                if records:
                    await conn.copy_records_to_table(table, records=records,
                                                     columns=COLUMNS[table])
            logged = chain(NODE, seq, head, [Change(t, i, "upsert", d)
                                             for _, _, t, i, d in chunk])
            await conn.copy_records_to_table(
                "change_log", columns=["origin", "seq", "type", "record_id", "op", "data",
                                       "data_hash", "prev", "hash"],
                records=[(e.origin, e.seq, e.type, e.id, e.op, canonical(e.data).decode(),
                          e.data_hash, e.prev, e.hash) for e in logged])
            seq, head = logged[-1].seq, logged[-1].hash
        await conn.execute("INSERT INTO principal_keys (principal_id, kid, jwk) VALUES"
                           " ($1, $2, $3::jsonb)", signer.principal_id, signer.kid,
                           msgspec.json.encode(signer.public_jwk).decode())
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# ---- driving ---------------------------------------------------------------------------

def write_tokens(path: Path, signer: Signer, method: str, targets: list[str], body: bytes,
                 threads: int) -> None:
    files = [open(f"{path}.{t}", "w") for t in range(threads)]  # noqa: SIM115
    try:
        for n, target in enumerate(targets):
            claims = signer.claims(method, target, body)
            claims["exp"] = claims["iat"] + 300
            files[n % threads].write(f"{target}\t{signer.sign(claims)}\n")
    finally:
        for f in files:
            f.close()


def wrk_signed(url: str, seconds: int, connections: int, method: str, lines: Path,
               body: Path | None = None, threads: int = 2) -> WrkResult:
    """wrk walking pre-signed (path, token) pairs, each token used once."""
    script = lines.with_suffix(".lua")
    script.write_text(LUA)
    extra = [str(body)] if body else []
    out = subprocess.run(["wrk", "--latency", f"-t{threads}", f"-c{connections}",
                          f"-d{seconds}s", "-s", str(script), url, "--", method, str(lines),
                          *extra], capture_output=True, text=True, check=True).stdout
    try:
        return _parse(out)
    except (AttributeError, ValueError) as exc:
        raise RuntimeError(out) from exc


def pgbench(dsn: str, seconds: int, numbers: int, workdir: Path) -> float:
    """The equivalent primary-key SELECT of a resource, at the same 32 connections."""
    script = workdir / "pk.sql"
    script.write_text(
        f"\\set n random(0, {numbers - 1})\n"
        "SELECT id, kind, value, supplier_id, assignee_id, valid_from, valid_to"
        " FROM resources WHERE id = 'r_' || lpad(to_hex(:n::bigint), 32, '0');\n")
    # The wheel's pgbench: there on every machine the node runs on, whatever its server.
    done = subprocess.run([str(client_tool("pgbench")), "-n", "-c", "32", "-j", "2",
                           "-T", str(seconds), "-M", "prepared", "-f", str(script), dsn],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    out = done.stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]


def workers_of(parent: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [parent]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Measured:
    """wrk results with the CPU time the node's workers spent on each run."""

    def __init__(self, workers: list[int], seconds: int) -> None:
        self.workers, self.seconds = workers, seconds
        self.results: dict[str, list[tuple[WrkResult, float]]] = {}

    def run(self, name: str, go: Any) -> WrkResult:
        before = cpu_seconds(self.workers)
        result: WrkResult = go()
        self.results.setdefault(name, []).append((result, cpu_seconds(self.workers) - before))
        return result

    def rate(self, name: str) -> float:
        return statistics.median(ok_rate(r, self.seconds) for r, _ in self.results[name])

    def per_cpu_second(self, name: str) -> float:
        """Answers per second of worker CPU: what one worker does on a core of its own."""
        return statistics.median((r.requests - r.non_2xx) / cpu
                                 for r, cpu in self.results[name])

    def p99(self, name: str) -> float:
        return statistics.median(r.p99_ms for r, _ in self.results[name])


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def serve(dsn: str, port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / "server.log"
    env = {**os.environ, "DATABASE_URL": dsn, "REGISTRY_NODE_ID": NODE,
           "REGISTRY_DATA_DIR": str(workdir / "data")}
    registry = Path(sys.executable).parent / "registry"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(registry), "serve", "--port", str(port),
                                    "--workers", "2"], env=env, stdout=out, stderr=out)
    return process, log


def serve_ready(dsn: str, port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """serve() and wait until both workers have built their indexes; the base URL."""
    process, log = serve(dsn, port, workdir)
    while log.read_text(errors="replace").count("trace_index_built") < 2:
        if process.poll() is not None:
            raise RuntimeError(log.read_text(errors="replace")[-2000:])
        time.sleep(0.5)
    base = f"http://127.0.0.1:{port}"
    while httpx.get(base + "/healthz").status_code != 200:
        time.sleep(0.2)
    return process, base


def median_of(values: list[float]) -> float:
    return statistics.median(values)


def ok_rate(result: WrkResult, seconds: int) -> float:
    """Answers a second that were 2xx: a run that ran out of tokens counts only those."""
    return (result.requests - result.non_2xx) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=18431)
    parser.add_argument("--keep-log", action="store_true", help="print the server log's path")
    args = parser.parse_args()
    name = f"bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = with_database(ADMIN, name)
    signer = Signer.new_ed25519(member_id(0), NODE)  # a carrier
    workdir = Path(tempfile.mkdtemp(prefix="bench-trace-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        asyncio.run(load(dsn, args.numbers, signer))
        print(f"loaded {args.numbers:,} numbers, 10,000 blocks, 5,000 members in "
              f"{time.perf_counter() - started:.0f} s", flush=True)

        started = time.perf_counter()
        process, base = serve_ready(dsn, args.port, workdir)
        print(f"server up, both workers' indexes built, in {time.perf_counter() - started:.0f}"
              " s", flush=True)

        probe = random.sample(range(args.numbers), min(args.numbers, 1000))
        body = msgspec.json.encode({"values": [number(n) for n in probe]})
        check = httpx.post(base + "/v1/trace", content=body, headers={
            "Authorization": "Bearer " + signer.token("POST", "/v1/trace", body),
            "Content-Type": "application/json"}).json()["results"]
        assert all(r["traceable"] for r in check), check[:3]

        body_file = workdir / "batch.json"
        body_file.write_bytes(body)
        workers = [p for p in workers_of(process.pid) if rss_of(p) > 50_000_000]
        assert len(workers) == 2, workers
        m = Measured(workers, args.seconds)
        pg: list[float] = []
        for run in range(args.runs):
            m.run("healthz", lambda: wrk(base + "/healthz", args.seconds, 32))
            # Enough single-use tokens for the run at up to 12,000 requests a second.
            picks = random.choices(range(args.numbers), k=12000 * args.seconds)  # noqa: S311
            targets = [f"/v1/trace/{quote(number(n), safe='')}" for n in picks]
            get = workdir / f"get{run}"
            write_tokens(get, signer, "GET", targets, b"", 2)
            m.run("trace", lambda get=get: wrk_signed(base, args.seconds, 32, "GET", get))
            post = workdir / f"post{run}"
            write_tokens(post, signer, "POST", ["/v1/trace"] * (4000 * args.seconds), body, 2)
            m.run("batch", lambda post=post: wrk_signed(base, args.seconds, 4, "POST", post,
                                                        body_file))
            pg.append(pgbench(dsn, args.seconds, args.numbers, workdir))
            last = {k: v[-1][0] for k, v in m.results.items()}
            print(f"run {run + 1}: healthz {ok_rate(last['healthz'], args.seconds):,.0f}/s, "
                  f"signed trace {ok_rate(last['trace'], args.seconds):,.0f}/s p99 "
                  f"{last['trace'].p99_ms:.1f} ms (non-2xx {last['trace'].non_2xx}), batch "
                  f"{ok_rate(last['batch'], args.seconds) * 1000:,.0f} numbers/s (non-2xx "
                  f"{last['batch'].non_2xx}), pgbench {pg[-1]:,.0f} tps", flush=True)

        rss = sorted(rss_of(p) for p in workers)
        h, s, p = m.rate("healthz"), m.rate("trace"), median_of(pg)
        b = m.rate("batch") * 1000
        print("\nmedians of", args.runs, "runs of", args.seconds, "s (2 workers, 2 cores "
              "shared with wrk and PostgreSQL):")
        print(f"  /healthz (unsigned)      {h:10,.0f} req/s, p99 {m.p99('healthz'):.1f} ms; "
              f"{m.per_cpu_second('healthz'):,.0f} per worker-CPU-second")
        print(f"  signed GET /v1/trace     {s:10,.0f} req/s = {s / h:.2f} x healthz "
              f"(target >= 0.45); p99 {m.p99('trace'):.1f} ms (target < 20); "
              f"{m.per_cpu_second('trace'):,.0f} per worker-CPU-second")
        print(f"  pgbench PK SELECT (c=32) {p:10,.0f} tps; signed trace = {s / p:.2f} x")
        print(f"  batch POST /v1/trace     {b:10,.0f} numbers/s = {b / 2:,.0f} per worker "
              f"(target >= 200,000); {m.per_cpu_second('batch') * 1000:,.0f} numbers per "
              f"worker-CPU-second; p99 {m.p99('batch'):.1f} ms")
        for pid_rss in rss:
            print(f"  worker RSS {pid_rss / 1e6:,.0f} MB = {pid_rss / args.numbers:.0f} bytes "
                  "per registered number (target <= 300)")
    finally:
        if args.keep_log:
            print("server log:", workdir / "server.log")
        if process is not None:
            process.terminate()
            process.wait(20)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
