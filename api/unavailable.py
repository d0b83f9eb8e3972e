"""A database that does not answer, or a connection lost, is 503 `unavailable` with
Retry-After: the client should come back, and it is no bug of ours to log as a 500.

The node recovers by itself: the pools reconnect at the next acquire, and `registry serve`
restarts an embedded PostgreSQL that died (api/embedded_pg/supervisor.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from asyncpg.exceptions import (
    ConnectionDoesNotExistError,
    InsufficientResourcesError,
    InternalClientError,
    OperatorInterventionError,
    PostgresConnectionError,
)
from litestar import Request, Response

from api.problems import problem

log = structlog.get_logger("api.unavailable")
RETRY_AFTER_SECONDS = 5

# What a database that is down, frozen, restarting or full looks like to asyncpg:
# OSError covers refused and reset connections and TimeoutError (its subclass) from the
# connect, acquire and statement timeouts; 08xxx connection failures; 57xxx a statement
# cancelled or the server shutting down or starting up; 53xxx too many connections, disk full;
# and asyncpg's own state error when a query meets a connection whose server has just died
# (before the connection's loss is noticed: "cannot switch to state ...").
DATABASE_FAULTS: tuple[type[Exception], ...] = (
    OSError,
    PostgresConnectionError,
    ConnectionDoesNotExistError,
    InternalClientError,
    OperatorInterventionError,
    InsufficientResourcesError,
)


def on_database_fault(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The type only: a database error's text can carry the values of the row it was about.
    log.warning("database_unavailable", error_type=type(exc).__name__)
    return problem(503, "Service Unavailable", "unavailable",
                   "the database is not answering; try again shortly",
                   retry_after=RETRY_AFTER_SECONDS)


EXCEPTION_HANDLERS: dict[Any, Any] = dict.fromkeys(DATABASE_FAULTS, on_database_fault)
