"""Node settings, from the command line and the environment (REGISTRY_* variables)."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec


def default_data_dir() -> Path:
    configured = os.environ.get("REGISTRY_DATA_DIR")
    return Path(configured) if configured else Path.home() / ".local" / "share" / "registry"


class Settings(msgspec.Struct, kw_only=True):
    # None: run on an embedded PostgreSQL kept under data_dir/pg.
    database_url: str | None = None
    node_id: str | None = None
    # Holds the node's signing key and secrets: never inside the database.
    data_dir: Path = msgspec.field(default_factory=default_data_dir)
    public_rate_per_minute: int = 60
    # Collector checks could enumerate id numbers: a per-member budget (API.md §7).
    collector_checks_per_minute: int = 30
    # Published collector filings stop matching this many years after publication.
    collector_filing_years: int = 5
    # The contact ledger forgets calls this many days after they were made (Art. 19).
    contact_retention_days: int = 180
    max_body_bytes: int = 2 * 1024 * 1024
    pool_min: int = 2
    pool_max: int = 10
    # Federation: pull from peers in the background, pausing this long after a short page.
    sync_enabled: bool = True
    sync_interval: float = 1.0
    sync_page_limit: int = 5000
    # The operator console (api/console): sessions end after this long idle, or this old.
    console_idle_minutes: int = 15
    console_session_hours: int = 12
    # Off only for plain-http development set-ups that are not on loopback.
    console_secure_cookies: bool = True

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
            "public_rate_per_minute": int(env.get("REGISTRY_PUBLIC_RATE_PER_MINUTE", "60")),
            "sync_enabled": env.get("REGISTRY_SYNC", "on") != "off",
            "sync_interval": float(env.get("REGISTRY_SYNC_INTERVAL", "1.0")),
            "sync_page_limit": int(env.get("REGISTRY_SYNC_PAGE_LIMIT", "5000")),
            "console_idle_minutes": int(env.get("REGISTRY_CONSOLE_IDLE_MINUTES", "15")),
            "console_secure_cookies":
                env.get("REGISTRY_CONSOLE_SECURE_COOKIES", "1").lower() not in ("0", "false", "no"),
            "collector_checks_per_minute": int(
                env.get("REGISTRY_COLLECTOR_CHECKS_PER_MINUTE", "30")),
            "contact_retention_days": int(env.get("REGISTRY_CONTACT_RETENTION_DAYS", "180")),
            "collector_filing_years": int(env.get("REGISTRY_COLLECTOR_FILING_YEARS", "5")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
