"""`registry serve` watches its embedded PostgreSQL while the HTTP server runs: a server that
died (killed, crashed, out of memory) is started again on its port, and the node's pools
reconnect by themselves. When it cannot be started again, the HTTP server is stopped and
serve exits non-zero, so that the supervisor above it (systemd, a container runtime) acts.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import structlog

from api.embedded_pg.host import EmbeddedPostgresError
from api.embedded_pg.server import EmbeddedPostgres

CHECK_SECONDS = 1.0
RESTART_ATTEMPTS = 5
# serve's exit status when the embedded database is lost for good
EXIT_DATABASE_LOST = 3


def _logger() -> Any:
    """JSON lines on the stderr of the moment, like the workers' logs, without configuring
    structlog for the whole process (serve's `main` also runs inside other programs, the
    tests among them)."""
    return structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer()],
        logger_name="api.embedded_pg",
    )


def supervise(
    http_server: subprocess.Popen[bytes], database: EmbeddedPostgres | None,
    *, every: float = CHECK_SECONDS, attempts: int = RESTART_ATTEMPTS,
) -> int:
    """Wait for ``http_server`` to end, restarting ``database`` whenever it dies meanwhile;
    returns the HTTP server's exit status, or EXIT_DATABASE_LOST."""
    log = _logger()
    failures = 0
    while True:
        try:
            return http_server.wait(timeout=every)
        except subprocess.TimeoutExpired:
            pass
        if database is None or database.is_running():
            continue
        log.warning("embedded_postgres_died", data_dir=str(database.data_dir))
        try:
            database.restart()
        except EmbeddedPostgresError as exc:
            failures += 1
            log.error("embedded_postgres_restart_failed", attempt=failures, error=str(exc))
            if failures >= attempts:
                log.error("embedded_postgres_lost", attempts=failures)
                _stop(http_server)
                return EXIT_DATABASE_LOST
            time.sleep(every * 2**failures)
            continue
        failures = 0
        log.info("embedded_postgres_restarted", port=database.port)


def _stop(http_server: subprocess.Popen[bytes]) -> None:
    http_server.terminate()
    try:
        http_server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        http_server.kill()
        http_server.wait()
