"""Real PostgreSQL for tests: a given server, the local one, or an embedded one we start.

The schema is migrated once into a template database per test session; each test module
then gets `CREATE DATABASE ... TEMPLATE`, which is fast and fully isolated.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from registry.migrate import migrate

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _reachable(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@contextmanager
def postgres_server() -> Iterator[str]:
    """An admin DSN: TEST_DATABASE_URL, else the local server, else an embedded one."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    # REGISTRY_TEST_EMBEDDED=1 takes the path of a machine without PostgreSQL on purpose.
    if not os.environ.get("REGISTRY_TEST_EMBEDDED") and asyncio.run(_reachable(LOCAL_SERVER)):
        yield LOCAL_SERVER
        return
    from api.embedded_pg import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="registry-test-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        dsn = server.start()
        try:
            yield with_database(dsn, "postgres")
        finally:
            server.stop()


class TemplateDatabases:
    """One migrated template per session; a fresh clone of it per test module."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.template = f"tpl_{secrets.token_hex(6)}"
        self.made: list[str] = []

    async def create_template(self) -> None:
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(with_database(self.admin_dsn, self.template))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def clone(self) -> str:
        name = f"t_{secrets.token_hex(6)}"
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        self.made.append(name)
        return with_database(self.admin_dsn, name)

    async def drop(self, name: str) -> None:
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def drop_all(self) -> None:
        for name in [*self.made, self.template]:
            await self.drop(name)
