"""Migrations build the expected schema from an empty database, once and only once."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from registry.migrate import available, migrate
from tests.support.database import TemplateDatabases, with_database
from tests.support.schema import describe

EXPECTED = Path(__file__).parent / "expected_schema.txt"


async def test_an_empty_database_migrates_to_the_expected_schema(
    databases: TemplateDatabases,
) -> None:
    name = "m_" + databases.template
    admin = await asyncpg.connect(databases.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(with_database(databases.admin_dsn, name))
        try:
            applied = await migrate(conn)
            assert applied == [m.name for m in available()]
            assert await migrate(conn) == []  # a second run applies nothing
            assert await describe(conn) == EXPECTED.read_text(), (
                "schema differs: regenerate with "
                "`.venv/bin/python -m tests.support.schema > tests/expected_schema.txt` "
                "and review the diff"
            )
            assert await _change_data_compression(conn) == (
                "l" if await _has_lz4(conn) else "")
        finally:
            await conn.close()
    finally:
        await databases.drop(name)
        await admin.close()


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in available()]
    assert versions == list(range(1, len(versions) + 1))


async def _change_data_compression(conn: asyncpg.Connection) -> str:
    found: str = await conn.fetchval(
        "SELECT attcompression::text FROM pg_attribute"
        " WHERE attrelid = 'change_log'::regclass AND attname = 'data'")
    return found


async def _has_lz4(conn: asyncpg.Connection) -> bool:
    probe = conn.transaction()
    await probe.start()
    try:
        await conn.execute("CREATE TEMP TABLE lz4_probe (d text COMPRESSION lz4)")
        return True
    except asyncpg.FeatureNotSupportedError:
        return False
    finally:
        await probe.rollback()
