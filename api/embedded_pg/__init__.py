"""The embedded PostgreSQL that `registry serve` runs when DATABASE_URL is unset, and that tests
use on machines without a PostgreSQL service: process and OS plumbing, kept out of `registry`."""

from api.embedded_pg.host import EmbeddedPostgresError, client_tool
from api.embedded_pg.server import DATABASE, SUPERUSER, EmbeddedPostgres, default_data_dir

__all__ = [
    "DATABASE", "SUPERUSER", "EmbeddedPostgres", "EmbeddedPostgresError", "client_tool",
    "default_data_dir",
]
