"""What `registry serve` checks and says before it serves: the database reachable (one
clear line if not), migrations applied, the node's identity, where everything is."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api.settings import Settings
from registry import db
from registry.migrate import migrate
from registry.node import ensure_node_id

PROBE_SECONDS = 10


class UnusableDatabase(Exception):
    """DATABASE_URL names no database this node can use (unreachable, or another's)."""


def version() -> str:
    try:
        return metadata.version("collection-registry")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def without_password(dsn: str) -> str:
    """The DSN fit to print: no password in the authority nor in the query."""
    try:
        parts = urlsplit(dsn)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "(unparseable DSN)"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("password="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {PROBE_SECONDS} s"
    return str(exc) or type(exc).__name__


async def _probe(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=PROBE_SECONDS)
    await conn.close()


def probe(dsn: str) -> None:
    """Connect once, so that a wrong DATABASE_URL is one line, not a traceback later."""
    try:
        asyncio.run(_probe(dsn))
    except (OSError, TimeoutError, ValueError, asyncpg.PostgresError,
            asyncpg.InterfaceError) as exc:
        raise UnusableDatabase(
            f"cannot use DATABASE_URL {without_password(dsn)}: {_reason(exc)}") from None


@dataclass(frozen=True)
class Prepared:
    node_id: str
    applied_now: list[str]
    schema_version: int


async def prepare_database(dsn: str, node_id: str | None) -> Prepared:
    """Migrate and fix the node id, as the workers will find them."""
    conn = await db.connect(dsn)
    try:
        applied = await migrate(conn)
        try:
            node = await ensure_node_id(conn, node_id)
        except RuntimeError as exc:  # the database is another node's
            raise UnusableDatabase(str(exc)) from None
        latest = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    finally:
        await conn.close()
    return Prepared(node, applied, int(latest or 0))


def banner(args: argparse.Namespace, settings: Settings, dsn: str, prepared: Prepared) -> str:
    base = f"http://{args.host}:{args.port}"
    database = (without_password(dsn) if settings.database_url
                else f"embedded PostgreSQL in {settings.data_dir / 'pg'}")
    applied = ", ".join(prepared.applied_now) or "none (up to date)"
    lines = [
        f"registry {version()} starting",
        f"  URL         {base}",
        f"  console     {base}/console",
        f"  API docs    {base}/schema",
        f"  node id     {prepared.node_id}",
        f"  data dir    {settings.data_dir}",
        f"  database    {database}",
        f"  schema      version {prepared.schema_version}; applied now: {applied}",
    ]
    metrics_port = getattr(args, "metrics_port", None)
    if metrics_port:
        lines.append(f"  metrics     http://{args.metrics_host}:{metrics_port}/metrics")
    return "\n".join(lines)
