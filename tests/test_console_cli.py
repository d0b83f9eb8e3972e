"""`registry operator add` with console credentials, and the companion set-up commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pyotp

from registry.console import credentials
from registry.console.sealing import load_or_create_key


def _run(
    database_url: str, data_dir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "operator", *args, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def _secret(stderr: str) -> str:
    found = re.search(r"otpauth://\S+", stderr)
    assert found, stderr
    return credentials.secret_of_uri(found.group(0))


async def test_operator_add_sets_a_password_and_a_totp_factor(
    database_url: str, data_dir: Path, db: asyncpg.Connection, tmp_path: Path,
) -> None:
    made = _run(database_url, data_dir, "add", "李运营", "--key-out", str(tmp_path / "op.pem"),
                "--login", "li", "--password-stdin", "--totp",
                stdin="a long enough password\n")
    assert made.returncode == 0, made.stderr
    result = json.loads(made.stdout.strip().splitlines()[-1])
    assert set(result) == {"id", "kid"}
    assert "a long enough password" not in made.stdout + made.stderr
    key = load_or_create_key(data_dir / "console.key")
    code = pyotp.TOTP(_secret(made.stderr)).now()
    signed_in = await credentials.authenticate(db, key, "li", "a long enough password", code)
    assert signed_in == result["id"]
    stored = await db.fetchrow(
        "SELECT password_hash, totp_secret FROM operator_credentials WHERE login = 'li'")
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert _secret(made.stderr) not in stored["totp_secret"]  # sealed at rest

    renewed = _run(database_url, data_dir, "enroll-totp", result["id"])
    assert renewed.returncode == 0, renewed.stderr
    reset = _run(database_url, data_dir, "set-password", result["id"], "--password-stdin",
                 stdin="another long password\n")
    assert reset.returncode == 0, reset.stderr
    await db.execute("UPDATE operator_credentials SET totp_last_step = 0")
    code = pyotp.TOTP(_secret(renewed.stderr)).now()
    assert await credentials.authenticate(db, key, "li", "another long password", code)


def test_a_short_password_is_refused(database_url: str, data_dir: Path, tmp_path: Path) -> None:
    made = _run(database_url, data_dir, "add", "短密码", "--key-out", str(tmp_path / "k.pem"),
                "--password-stdin", stdin="short\n")
    assert made.returncode == 2
    assert "at least 12 characters" in made.stderr
    assert not (tmp_path / "k.pem").exists()
