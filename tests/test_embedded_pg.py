"""The embedded PostgreSQL server: real initdb, start, queries, stop and restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import asyncpg
import pytest

from registry.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError, default_data_dir


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
        assert dsn.endswith("/registry")
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
