"""A plain-text description of a database's schema, for comparing a migrated database.

Regenerate the expected file after adding a migration:
    .venv/bin/python -m tests.support.schema > tests/expected_schema.txt
"""

from __future__ import annotations

import asyncio
import sys

from registry.db import Connection

_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, coalesce(c.column_default, '')
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.column_name
"""
_INDEXES = "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexdef"
_CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  AND contype <> 'n'  -- PostgreSQL 18 lists NOT NULL as constraints too; columns say it
ORDER BY 1, 2
"""


async def describe(conn: Connection) -> str:
    lines = []
    for row in await conn.fetch(_COLUMNS):
        lines.append("column " + " | ".join(str(v) for v in row.values()))
    for row in await conn.fetch(_INDEXES):
        lines.append("index " + row["indexdef"])
    for row in await conn.fetch(_CONSTRAINTS):
        lines.append("constraint " + " | ".join(str(v) for v in row.values()))
    return "\n".join(lines) + "\n"


async def _describe_fresh(admin_dsn: str) -> str:
    import secrets

    import asyncpg

    from registry.migrate import migrate
    from tests.support.database import with_database

    name = f"schema_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(with_database(admin_dsn, name))
        try:
            await migrate(conn)
            return await describe(conn)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    from tests.support.database import postgres_server

    with postgres_server() as dsn:
        sys.stdout.write(asyncio.run(_describe_fresh(dsn)))
