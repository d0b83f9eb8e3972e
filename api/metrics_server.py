"""`serve --metrics-port`: what the workers counted, and the sync status, on a port of
their own, answered by the serving parent process (which outlives every worker)."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg

from registry import db
from sync.status import metrics_text, sync_status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SYNC_STATUS_SECONDS = 5


def fresh_directory(data_dir: Path) -> Path:
    """The workers' shared metric files; last run's counts are not this run's."""
    directory = data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


async def _sync_text(dsn: str, node_id: str) -> str:
    conn = await db.connect(dsn)
    try:
        return metrics_text(await sync_status(conn, node_id))
    finally:
        await conn.close()


def exposition(directory: Path, dsn: str, node_id: str) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    text = generate_latest(registry)
    try:
        sync = asyncio.run(asyncio.wait_for(_sync_text(dsn, node_id), SYNC_STATUS_SECONDS))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        sync = ("# HELP registry_metrics_sync_status_up 0 when the sync status could not "
                "be read for this scrape.\n# TYPE registry_metrics_sync_status_up gauge\n"
                "registry_metrics_sync_status_up 0\n")
    return text + sync.encode()


@contextmanager
def metrics_port(host: str, port: int, directory: Path, dsn: str, node_id: str
                 ) -> Iterator[ThreadingHTTPServer]:
    """Serve GET /metrics on host:port until the block ends."""

    class Scrape(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = exposition(directory, dsn, node_id)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds are not worth a log line each."""

    server = ThreadingHTTPServer((host, port), Scrape)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
