"""The `registry` command: serve a node, migrate its database, manage operators."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from api import cli_sync
from api.settings import Settings
from registry import db
from registry.migrate import migrate
from registry.principals import create_operator
from registry.signing_keys import write_private_key

Command = Callable[[argparse.Namespace], int]


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    """DATABASE_URL when set; otherwise the embedded PostgreSQL under the data directory."""
    if settings.database_url:
        yield settings.database_url
        return
    from registry.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(settings.data_dir / "pg")
    dsn = server.start()
    print(f"embedded PostgreSQL running, data in {settings.data_dir / 'pg'}", file=sys.stderr)
    try:
        yield dsn
    finally:
        server.stop()


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        node_id=getattr(args, "node_id", None),
        data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with database(settings) as dsn:
        asyncio.run(_migrate(dsn))
        # The HTTP server runs as a child process so that this one outlives it whatever
        # way it ends, and can always stop the embedded PostgreSQL after it. Workers read
        # their settings from the environment.
        env = {**os.environ, "DATABASE_URL": dsn, "REGISTRY_DATA_DIR": str(settings.data_dir)}
        if settings.node_id:
            env["REGISTRY_NODE_ID"] = settings.node_id
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "api.http_server", "--host", args.host,
             "--port", str(args.port), "--workers", str(args.workers)],
            env=env,
        )

        def forward(signum: int, frame: object) -> None:
            server.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, forward)
        returncode = server.wait()
    # Ended by the signal it was sent: that is the normal way to stop a node.
    return 0 if returncode in (-signal.SIGTERM, -signal.SIGINT) else returncode


async def _migrate(dsn: str) -> list[str]:
    conn = await db.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def cmd_migrate(args: argparse.Namespace) -> int:
    with database(_settings(args)) as dsn:
        applied = asyncio.run(_migrate(dsn))
    print(json.dumps({"applied": applied}))
    return 0


def cmd_operator_add(args: argparse.Namespace) -> int:
    key_out = Path(args.key_out)
    if key_out.exists():
        print(f"refusing to overwrite {key_out}", file=sys.stderr)
        return 2

    async def add(dsn: str) -> dict[str, str]:
        conn = await db.connect(dsn)
        try:
            await migrate(conn)
            made = await create_operator(conn, args.name)
        finally:
            await conn.close()
        write_private_key(key_out, made.private_key)
        return {"id": made.id, "kid": made.kid}

    with database(_settings(args)) as dsn:
        result = asyncio.run(add(dsn))
    print(json.dumps(result))
    return 0


def cmd_collector_key_rotate(args: argparse.Namespace) -> int:
    """A new collector-hash key version; running workers pick it up when restarted."""
    from registry.collectors import subject_hash

    version = subject_hash.rotate(_settings(args).data_dir / "secrets")
    print(json.dumps({"hash_version": version}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="registry",
        description="Collection registry node: members, telecom whitelist, federation.",
        epilog="DATABASE_URL selects PostgreSQL; without it an embedded PostgreSQL runs under "
        "the data directory (REGISTRY_DATA_DIR, default ~/.local/share/registry).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data-dir", help="node key, secrets and embedded database")

    serve = commands.add_parser("serve", help="run the node's HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--node-id", help="this node's id (fixed at first start)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    common(serve)
    serve.set_defaults(run=cmd_serve)

    mig = commands.add_parser("migrate", help="apply pending schema migrations")
    common(mig)
    mig.set_defaults(run=cmd_migrate)

    operator = commands.add_parser("operator", help="association operators")
    op_commands = operator.add_subparsers(dest="operator_command", required=True)
    op_add = op_commands.add_parser("add", help="create an operator and its signing key")
    op_add.add_argument("name")
    op_add.add_argument("--key-out", required=True, help="where to write the PKCS#8 PEM key")
    common(op_add)
    op_add.set_defaults(run=cmd_operator_add)

    collector_key = commands.add_parser("collector-key", help="the collector id-hash secret")
    key_commands = collector_key.add_subparsers(dest="collector_key_command", required=True)
    rotate = key_commands.add_parser("rotate", help="make the next key version (old ones stay)")
    common(rotate)
    rotate.set_defaults(run=cmd_collector_key_rotate)

    def with_database(args: argparse.Namespace) -> contextlib.AbstractContextManager[str]:
        return database(_settings(args))

    cli_sync.add_commands(commands, common, with_database)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
