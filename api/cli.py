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

from api import cli_client, cli_export, cli_import, cli_sync, cli_tlog, cli_verify, lifeline
from api.embedded_pg import EmbeddedPostgres
from api.embedded_pg.supervisor import supervise
from api.logging import configure_logging
from api.settings import Settings
from api.startup import UnusableDatabase, banner, prepare_database, probe, version
from registry import db
from registry.console import credentials
from registry.console.sealing import load_or_create_key
from registry.errors import RegistryError
from registry.migrate import migrate
from registry.principals import create_operator
from registry.signing_keys import write_private_key

Command = Callable[[argparse.Namespace], int]


@contextlib.contextmanager
def database_server(settings: Settings) -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """DATABASE_URL when set; otherwise the embedded PostgreSQL under the data directory."""
    if settings.database_url:
        probe(settings.database_url)
        yield settings.database_url, None
        return
    server = EmbeddedPostgres(settings.data_dir / "pg")
    dsn = server.start()
    print(f"embedded PostgreSQL running, data in {settings.data_dir / 'pg'}", file=sys.stderr)
    try:
        yield dsn, server
    finally:
        server.stop()


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    with database_server(settings) as (dsn, _):
        yield dsn


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        node_id=getattr(args, "node_id", None),
        data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with database_server(settings) as (dsn, embedded):
        prepared = asyncio.run(prepare_database(dsn, settings.node_id))
        # On stderr: the node's stdout is its JSON log, line by line.
        print(banner(args, settings, dsn, prepared), file=sys.stderr, flush=True)
        # The HTTP server runs as a child process so that this one outlives it whatever
        # way it ends, and can always stop the embedded PostgreSQL after it. Workers read
        # their settings from the environment.
        env = {**os.environ, "DATABASE_URL": dsn, "REGISTRY_DATA_DIR": str(settings.data_dir)}
        if settings.node_id:
            env["REGISTRY_NODE_ID"] = settings.node_id
        with contextlib.ExitStack() as stack:
            if args.metrics_port:
                from api import metrics_server  # only a node that serves metrics needs it

                directory = metrics_server.fresh_directory(settings.data_dir)
                env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
                stack.enter_context(metrics_server.metrics_port(
                    args.metrics_host, args.metrics_port, directory, dsn, prepared.node_id))
            returncode = _run_http_server(args, env, embedded)
    # Ended by the signal it was sent: that is the normal way to stop a node.
    return 0 if returncode in (-signal.SIGTERM, -signal.SIGINT) else returncode


def _run_http_server(args: argparse.Namespace, env: dict[str, str],
                     embedded: EmbeddedPostgres | None) -> int:
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "api.http_server", "--host", args.host,
         "--port", str(args.port), "--workers", str(args.workers)],
        env=lifeline.children_die_with_me(env),
    )

    def forward(signum: int, frame: object) -> None:
        server.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    # Watches the embedded PostgreSQL too, when there is one (api/embedded_pg/supervisor.py).
    return supervise(server, embedded)


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


def _read_password(args: argparse.Namespace) -> str | None:
    """The first line of stdin with --password-stdin (never an argument: ps shows those)."""
    if not getattr(args, "password_stdin", False):
        return None
    return sys.stdin.readline().rstrip("\r\n")


async def _set_console_credentials(
    conn: db.Connection, settings: Settings, operator_id: str, args: argparse.Namespace,
    password: str | None,
) -> None:
    """Apply --login, --password-stdin and --totp; the otpauth URI goes to stderr."""
    login = getattr(args, "login", None)
    if password is not None:
        await credentials.set_password(conn, operator_id, password, login)
    if getattr(args, "totp", False):
        uri = await credentials.enroll_totp(
            conn, load_or_create_key(settings.console_key_file), operator_id, login)
        print("Add this to the operator's authenticator app (shown once):", file=sys.stderr)
        print(uri, file=sys.stderr)
        print(f"secret: {credentials.secret_of_uri(uri)}", file=sys.stderr)


def cmd_operator_add(args: argparse.Namespace) -> int:
    key_out = Path(args.key_out)
    if key_out.exists():
        print(f"refusing to overwrite {key_out}", file=sys.stderr)
        return 2
    password = _read_password(args)
    if password is not None:
        credentials.check_password_strength(password)
    settings = _settings(args)

    async def add(dsn: str) -> dict[str, str]:
        conn = await db.connect(dsn)
        try:
            await migrate(conn)
            async with conn.transaction():
                made = await create_operator(conn, args.name)
                await _set_console_credentials(conn, settings, made.id, args, password)
        finally:
            await conn.close()
        write_private_key(key_out, made.private_key)
        return {"id": made.id, "kid": made.kid}

    with database(settings) as dsn:
        result = asyncio.run(add(dsn))
    # The JSON stays the last line of stdout (API.md §3), whatever else is printed.
    print(json.dumps(result))
    return 0


def cmd_operator_credentials(args: argparse.Namespace) -> int:
    """set-password / enroll-totp for an existing operator."""
    password = _read_password(args)
    if password is not None:
        credentials.check_password_strength(password)
    settings = _settings(args)

    async def update(dsn: str) -> None:
        conn = await db.connect(dsn)
        try:
            await migrate(conn)
            async with conn.transaction():
                await _set_console_credentials(conn, settings, args.id, args, password)
        finally:
            await conn.close()

    with database(settings) as dsn:
        asyncio.run(update(dsn))
    print(json.dumps({"id": args.id}))
    return 0


def _guarded(command: Command) -> Command:
    """Domain errors (a weak password, a taken login) end with a message, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except RegistryError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 2

    return run


def cmd_key_rotate(args: argparse.Namespace) -> int:
    """A new key version for collector or debtor hashes; running workers pick it up when
    restarted. Debtor keys are association-wide: copy the new file to every node."""
    from registry import keyed_hash

    version = keyed_hash.rotate(_settings(args).data_dir / "secrets", args.purpose)
    print(json.dumps({"hash_version": version}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="registry",
        description="Collection registry node: members, telecom whitelist, federation.",
        epilog="DATABASE_URL selects PostgreSQL; without it an embedded PostgreSQL runs under "
        "the data directory (REGISTRY_DATA_DIR, default ~/.local/share/registry).",
    )
    parser.add_argument("--version", action="version", version=f"registry {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data-dir", help="node key, secrets and embedded database")

    serve = commands.add_parser("serve", help="run the node's HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--node-id", help="this node's id (fixed at first start)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument("--metrics-port", type=int,
                       help="serve Prometheus metrics on this port (apart from the API's)")
    serve.add_argument("--metrics-host", default="127.0.0.1",
                       help="the metrics port's address (default 127.0.0.1)")
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
    _console_options(op_add)
    common(op_add)
    op_add.set_defaults(run=_guarded(cmd_operator_add))
    op_pw = op_commands.add_parser("set-password", help="set a console sign-in password")
    op_pw.add_argument("id", help="the operator id")
    op_pw.add_argument("--login", help="the console login name (default: the operator id)")
    op_pw.add_argument("--password-stdin", action="store_true", required=True,
                       help="read the password from the first line of stdin")
    common(op_pw)
    op_pw.set_defaults(run=_guarded(cmd_operator_credentials))
    op_totp = op_commands.add_parser("enroll-totp", help="give an operator a new TOTP secret")
    op_totp.add_argument("id", help="the operator id")
    op_totp.add_argument("--login", help="the console login name (default: the operator id)")
    op_totp.set_defaults(totp=True)
    common(op_totp)
    op_totp.set_defaults(run=_guarded(cmd_operator_credentials))

    for purpose, what in (("collector", "the collector id-hash secret"),
                          ("debtor", "the debtor number-hash secret (association-wide)")):
        key = commands.add_parser(f"{purpose}-key", help=what)
        key_commands = key.add_subparsers(dest=f"{purpose}_key_command", required=True)
        rotate = key_commands.add_parser("rotate", help="make the next key version (old ones"
                                         " stay)")
        common(rotate)
        rotate.set_defaults(run=cmd_key_rotate, purpose=purpose)

    def with_database(args: argparse.Namespace) -> contextlib.AbstractContextManager[str]:
        return database(_settings(args))

    cli_sync.add_commands(commands, common, with_database)
    cli_verify.add_command(commands, common, with_database)
    cli_export.add_command(commands, common, with_database)
    cli_tlog.add_commands(commands)
    cli_client.add_commands(commands)
    cli_import.add_commands(commands)
    return parser


def _console_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--login", help="console login name (default: the operator id)")
    sub.add_argument("--password-stdin", action="store_true",
                     help="read a console password (12+ characters) from stdin's first line")
    sub.add_argument("--totp", action="store_true",
                     help="enrol a TOTP second factor; prints its otpauth URI on stderr")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Commands answer on stdout (JSON, mirror traces); their logs go to stderr. The node
    # that `serve` starts logs to its own stdout (api/http_server.py).
    configure_logging(stream="stderr")
    run: Command = args.run
    try:
        return run(args)
    except UnusableDatabase as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
