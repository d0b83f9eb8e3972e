"""Node settings, from the command line and the environment (REGISTRY_* variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from api.client_address import parse_trusted_proxies


def _floats(env: Mapping[str, str], names: dict[str, str]) -> dict[str, object]:
    """The settings among `names` (setting: variable) that the environment sets."""
    return {setting: float(env[variable]) for setting, variable in names.items()
            if env.get(variable)}


def _ints(env: Mapping[str, str], names: dict[str, str]) -> dict[str, object]:
    return {setting: int(env[variable]) for setting, variable in names.items()
            if env.get(variable)}


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
    # The shared trace index (docs/trace-snapshot.md): workers stand on a snapshot once the
    # log holds this many entries (below it, each builds its own in moments); a worker
    # rebuilds the snapshot once its own delta holds this many; and looks this often for
    # a snapshot another worker rebuilt.
    trace_snapshot_min_entries: int = 100_000
    trace_snapshot_rebuild_after: int = 200_000
    trace_snapshot_check_seconds: float = 5.0
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
    # Complaints (API.md §13): how long a member has to answer one. Association policy:
    # the guideline sets no figure; 24 h is what the association asks of its members.
    complaint_respond_hours: float = 24.0
    # Public complaint reports per client address and hour, on top of the public budget.
    public_complaints_per_hour: int = 10
    # Webhooks (API.md §14). Loopback (and plain http to it) only where a test asks for it.
    webhook_allow_http_loopback: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_max_answer_bytes: int = 64 * 1024
    webhook_concurrency: int = 4
    webhook_poll_seconds: float = 1.0
    webhook_backoff_seconds: float = 5.0
    webhook_backoff_cap_seconds: float = 4 * 3600.0
    webhook_retry_hours: float = 24.0
    # After a new secret is issued, the previous one keeps signing this long.
    webhook_secret_overlap_hours: float = 24.0
    # `evaluation.due` tells a lender this many days before its agency's evaluation is due.
    evaluation_notice_days: int = 30
    # The event outbox forgets events this many days old (with their deliveries), unless a
    # delivery is pending, and a delivered webhook's attempt records this many days old.
    event_retention_days: int = 400
    webhook_attempt_retention_days: int = 30

    def __post_init__(self) -> None:
        # A retention of 0 days or less would forget what was just told.
        for name in ("event_retention_days", "webhook_attempt_retention_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 day")
        if self.evaluation_notice_days < 0:
            raise ValueError("evaluation_notice_days must not be negative")

    @property
    def trace_head_file(self) -> Path:
        return (self.runtime_dir or self.data_dir) / "trace-head"

    @property
    def trace_snapshot_file(self) -> Path:
        """The snapshot every worker of the node maps: written while running, so it lives
        where the trace head does."""
        return (self.runtime_dir or self.data_dir) / "trace-index.snapshot"

    @property
    def console_key_file(self) -> Path:
        """Seals operators' TOTP secrets at rest; kept beside the node key."""
        return self.data_dir / "console.key"

    @property
    def webhook_key_file(self) -> Path:
        """Seals members' webhook secrets at rest; kept beside the node key."""
        return self.data_dir / "webhooks.key"

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
            "trace_snapshot_min_entries": int(
                env.get("REGISTRY_TRACE_SNAPSHOT_MIN_ENTRIES", "100000")),
            "trace_snapshot_rebuild_after": int(
                env.get("REGISTRY_TRACE_SNAPSHOT_REBUILD_AFTER", "200000")),
            "trace_snapshot_check_seconds": float(
                env.get("REGISTRY_TRACE_SNAPSHOT_CHECK_SECONDS", "5")),
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
            "public_complaints_per_hour": int(
                env.get("REGISTRY_PUBLIC_COMPLAINTS_PER_HOUR", "10")),
            **_ints(env, {
                "evaluation_notice_days": "REGISTRY_EVALUATION_NOTICE_DAYS",
                "event_retention_days": "REGISTRY_EVENT_RETENTION_DAYS",
                "webhook_attempt_retention_days": "REGISTRY_WEBHOOK_ATTEMPT_RETENTION_DAYS",
            }),
            **_floats(env, {
                "complaint_respond_hours": "REGISTRY_COMPLAINT_RESPOND_HOURS",
                "webhook_timeout_seconds": "REGISTRY_WEBHOOK_TIMEOUT_SECONDS",
                "webhook_poll_seconds": "REGISTRY_WEBHOOK_POLL_SECONDS",
                "webhook_backoff_seconds": "REGISTRY_WEBHOOK_BACKOFF_SECONDS",
                "webhook_backoff_cap_seconds": "REGISTRY_WEBHOOK_BACKOFF_CAP_SECONDS",
                "webhook_retry_hours": "REGISTRY_WEBHOOK_RETRY_HOURS",
                "webhook_secret_overlap_hours": "REGISTRY_WEBHOOK_SECRET_OVERLAP_HOURS",
            }),
            "webhook_allow_http_loopback": env.get(
                "REGISTRY_WEBHOOK_ALLOW_HTTP_LOOPBACK", "0").lower() in ("1", "true", "yes"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
