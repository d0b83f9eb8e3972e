"""The `registry` command: serve a node, migrate its database, manage operators."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

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
        # Workers are separate processes: they read their settings from the environment.
        os.environ["DATABASE_URL"] = dsn
        os.environ["REGISTRY_DATA_DIR"] = str(settings.data_dir)
        if settings.node_id:
            os.environ["REGISTRY_NODE_ID"] = settings.node_id
        asyncio.run(_migrate(dsn))
        config = uvicorn.Config(
            "api.asgi:app_from_env", factory=True, host=args.host, port=args.port,
            workers=args.workers, log_level="warning", access_log=False,
            timeout_graceful_shutdown=10,
        )
        if config.workers > 1:
            _serve_workers(config)
        else:
            uvicorn.Server(config).run()
    return 0


def _serve_workers(config: uvicorn.Config) -> None:
    """Several workers on one shared socket, as uvicorn.run does, but with TCP_NODELAY.

    uvicorn makes the shared socket with protocol 0, so asyncio does not set TCP_NODELAY
    on the connections it accepts from it; every keep-alive answer, sent as two writes,
    then waits out the client's delayed ACK (about 40 ms). Set on the listening socket,
    Linux hands the option to every accepted connection.
    """
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
