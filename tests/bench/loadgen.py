"""Load generation for benchmarks: serve a node as the README does, drive it with wrk.

Signed requests need a fresh jti each, so tokens are made up front and written one per
line; wrk's Lua script (below) hands each thread its own slice of them.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.served import served_registry
from tests.support.signing import Signer

_LUA = r"""
local tokens = {}
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then table.insert(tokens, line) end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  local token = tokens[counter]
  if token == nil then token = "exhausted" end
  return wrk.format(METHOD, PATH, {["Authorization"] = "Bearer " .. token}, BODY)
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int


@contextmanager
def served_node(database_url: str, workers: int = 2, node_id: str = "node-bench") -> Iterator[str]:
    """`registry serve` as the README runs it, on a free loopback port; yields its base URL."""
    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    try:
        with served_registry(workdir, database_url=database_url, node_id=node_id,
                             workers=workers) as node:
            yield node.base
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def write_tokens(signer: Signer, method: str, target: str, count: int, path: Path,
                 body: bytes = b"") -> None:
    with path.open("w") as out:
        for _ in range(count):
            out.write(signer.token(method, target, body, exp=int(time.time()) + 290) + "\n")


def wrk(url: str, seconds: int, connections: int, threads: int = 2,
        tokens: Path | None = None) -> WrkResult:
    args = ["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    if tokens is not None:
        script = tokens.with_suffix(".lua")
        script.write_text(_LUA)
        args += ["-s", str(script), url, "--", str(tokens), str(threads)]
    else:
        args.append(url)
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return _parse(out)


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if match is None:
        raise ValueError(f"wrk printed a latency this parser does not know: {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _parse(out: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored: a thread-stats column such as "78.50%" must not pass for the 50th percentile.
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return WrkResult(rps, p50, p99, int(non_2xx_match.group(1)) if non_2xx_match else 0, total)


def median(values: list[float]) -> float:
    return statistics.median(values)
