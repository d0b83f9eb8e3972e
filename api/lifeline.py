"""Processes that must not outlive the one that started them: `registry serve`'s HTTP
server, and that server's workers. Should their parent be killed outright (SIGKILL, the
OOM killer), the kernel sends them SIGTERM, so no orphan keeps a port, a database
connection or a stale index. Linux only (prctl); elsewhere nothing is set."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

# The pid a child must find as its parent; set by the parent in its children's environment.
PARENT = "REGISTRY_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def children_die_with_me(env: dict[str, str]) -> dict[str, str]:
    """`env` for children that are to end with this process."""
    return {**env, PARENT: str(os.getpid())}


def die_with_parent() -> None:
    """SIGTERM this process when its parent ends, if the parent asked for it. A process
    started by itself in process (one worker, no children) has nothing to watch."""
    expected = os.environ.get(PARENT)
    if not expected or int(expected) == os.getpid() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(expected):  # the parent ended before the line above
        os.kill(os.getpid(), signal.SIGTERM)
