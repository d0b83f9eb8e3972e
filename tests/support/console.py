"""Console test helpers: an operator with a password and TOTP, signing in as one, and a
client that keeps the console's Secure cookie."""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
from litestar import Litestar
from litestar.testing import AsyncTestClient

from registry.console import credentials
from registry.console.sealing import load_or_create_key
from registry.db import Connection
from registry.principals import create_operator


@contextlib.asynccontextmanager
async def https_client(app: Litestar, follow_redirects: bool = False
                       ) -> AsyncIterator[AsyncTestClient[Any]]:
    """A test client on https, so that the Secure session cookie comes back as from a
    browser; by default it leaves redirects to the test, which looks at each."""
    async with AsyncTestClient(app, base_url="https://testserver.local") as client:
        client.follow_redirects = follow_redirects
        yield client


@dataclass
class ConsoleLogin:
    operator_id: str
    name: str
    login: str
    password: str
    totp_secret: str

    def code(self, at: float | None = None) -> str:
        return pyotp.TOTP(self.totp_secret).at(time.time() if at is None else at)


async def make_console_operator(
    conn: Connection, data_dir: Path, name: str = "王审核"
) -> ConsoleLogin:
    made = await create_operator(conn, name)
    login = f"op-{secrets.token_hex(3)}"
    password = "correct horse battery staple"
    await credentials.set_password(conn, made.id, password, login)
    uri = await credentials.enroll_totp(conn, load_or_create_key(data_dir / "console.key"), made.id)
    return ConsoleLogin(made.id, name, login, password, credentials.secret_of_uri(uri))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, who: ConsoleLogin, code: str | None = None
) -> httpx.Response:
    form = await client.get("/console/sign-in")
    return await client.post("/console/sign-in", data={
        "csrf": csrf_of(form.text), "login": who.login, "password": who.password,
        "code": code or who.code(), "next": "/console",
    })
