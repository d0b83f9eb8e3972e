"""Fixtures: a real PostgreSQL, a fresh database per module, a served app, real signers."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import api.logging
from api.app import create_app
from api.settings import Settings
from registry.db import connect
from registry.principals import create_operator
from tests.support.client import SignedClient
from tests.support.database import TemplateDatabases, postgres_server
from tests.support.signing import Signer

NODE_ID = "node-test"

# Every logger then follows capture_logs, whatever configured logging before it.
api.logging.cache_loggers = False


@pytest.fixture(scope="session")
def admin_dsn() -> Iterator[str]:
    with postgres_server() as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def databases(admin_dsn: str) -> AsyncIterator[TemplateDatabases]:
    templates = TemplateDatabases(admin_dsn)
    await templates.create_template()
    yield templates
    await templates.drop_all()


@pytest.fixture(scope="module")
async def database_url(databases: TemplateDatabases) -> str:
    return await databases.clone()


@pytest.fixture
def own_tmp() -> Iterator[Path]:
    """A temporary directory of this test's own, outside pytest's shared basetemp, whose
    rotation by other pytest runs on the machine must not touch a running PostgreSQL."""
    with tempfile.TemporaryDirectory(prefix="registry-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("node-data")


@pytest.fixture(scope="module")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, node_id=NODE_ID, data_dir=data_dir)


@pytest.fixture(scope="module")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="module")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def db(database_url: str, client: AsyncTestClient[Any]) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the module's database (after the app has migrated it)."""
    conn = await connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture(scope="module")
async def operator(db: asyncpg.Connection, client: AsyncTestClient[Any]) -> SignedClient:
    made = await create_operator(db, "测试操作员")
    return SignedClient(client, Signer(made.id, made.kid, made.private_key, NODE_ID))

