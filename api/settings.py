"""Node settings, from the command line and the environment (REGISTRY_* variables)."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from api.client_address import parse_trusted_proxies


def default_data_dir() -> Path:
    configured = os.environ.get("REGISTRY_DATA_DIR")
    return Path(configured) if configured else Path.home() / ".local" / "share" / "registry"


class Settings(msgspec.Struct, kw_only=True):
    # None: run on an embedded PostgreSQL kept under data_dir/pg.
    database_url: str | None = None
    node_id: str | None = None
    # Holds the node's signing key and secrets: never inside the database.
    data_dir: Path = msgspec.field(default_factory=default_data_dir)
    # Where the workers write while running (the trace head they share): apart from the
    # data directory when that is mounted read-only (infra/k8s). None: the data directory.
    runtime_dir: Path | None = None
    public_rate_per_minute: int = 60
    # Proxies whose X-Forwarded-For is believed (api/client_address.py); none by default.
    trusted_proxies: tuple[str, ...] = ()
    # Collector checks could enumerate id numbers: a per-member budget (API.md §7).
    collector_checks_per_minute: int = 30
    # Published collector filings stop matching this many years after publication.
    collector_filing_years: int = 5
    # The contact ledger forgets calls this many days after they were made (Art. 19).
    contact_retention_days: int = 180
    max_body_bytes: int = 2 * 1024 * 1024
    pool_min: int = 2
    pool_max: int = 10
    # Seconds to connect, to take a pooled connection, and per statement: a database that
    # does not answer costs a request this long (twice at most), then 503 `unavailable`.
    db_timeout: float = 3.0
    # Federation: pull from peers in the background, pausing this long after a short page.
    sync_enabled: bool = True
    sync_interval: float = 1.0
    sync_page_limit: int = 5000
    # A peer's page is read within this many seconds in all, and this many bytes per
    # change asked for (over a 4 MiB floor); past either, the pull fails and asks for less.
    sync_page_seconds: float = 30.0
    sync_bytes_per_change: int = 2048
    sync_max_backoff: float = 60.0  # the longest pause between failed pulls of a peer
    # The operator console (api/console): sessions end after this long idle, or this old.
    console_idle_minutes: int = 15
    console_session_hours: int = 12
    # Off only for plain-http development set-ups that are not on loopback.
    console_secure_cookies: bool = True

    @property
    def trace_head_file(self) -> Path:
        return (self.runtime_dir or self.data_dir) / "trace-head"

    @property
    def console_key_file(self) -> Path:
        """Seals operators' TOTP secrets at rest; kept beside the node key."""
        return self.data_dir / "console.key"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or None,
            "node_id": env.get("REGISTRY_NODE_ID") or None,
            "data_dir": default_data_dir(),
            "runtime_dir": Path(env["REGISTRY_RUNTIME_DIR"]) if env.get("REGISTRY_RUNTIME_DIR")
            else None,
            "public_rate_per_minute": int(env.get("REGISTRY_PUBLIC_RATE_PER_MINUTE", "60")),
            "trusted_proxies": parse_trusted_proxies(env.get("REGISTRY_TRUSTED_PROXIES", "")),
            "sync_enabled": env.get("REGISTRY_SYNC", "on") != "off",
            "sync_interval": float(env.get("REGISTRY_SYNC_INTERVAL", "1.0")),
            "sync_page_limit": int(env.get("REGISTRY_SYNC_PAGE_LIMIT", "5000")),
            "sync_page_seconds": float(env.get("REGISTRY_SYNC_PAGE_SECONDS", "30")),
            "sync_bytes_per_change": int(env.get("REGISTRY_SYNC_BYTES_PER_CHANGE", "2048")),
            "sync_max_backoff": float(env.get("REGISTRY_SYNC_MAX_BACKOFF", "60")),
            "console_idle_minutes": int(env.get("REGISTRY_CONSOLE_IDLE_MINUTES", "15")),
            "console_secure_cookies":
                env.get("REGISTRY_CONSOLE_SECURE_COOKIES", "1").lower() not in ("0", "false", "no"),
            "collector_checks_per_minute": int(
                env.get("REGISTRY_COLLECTOR_CHECKS_PER_MINUTE", "30")),
            "contact_retention_days": int(env.get("REGISTRY_CONTACT_RETENTION_DAYS", "180")),
            "collector_filing_years": int(env.get("REGISTRY_COLLECTOR_FILING_YEARS", "5")),
            "db_timeout": float(env.get("REGISTRY_DB_TIMEOUT", "3")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
