"""Secrets made once in the data directory: workers starting together on a fresh directory
all end with the same whole secret, owner-readable only, and none is ever replaced."""

from __future__ import annotations

import multiprocessing
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry import keyed_hash
from registry.console.sealing import load_or_create_key
from registry.secret_file import create_once
from registry.signing_keys import load_or_create, public_jwk_of, write_private_key


def _node_key(directory: Path) -> str:
    return str(public_jwk_of(load_or_create(directory / "node_key.pem"))["kid"])


def _sealing_key(directory: Path) -> str:
    return load_or_create_key(directory / "webhooks.key").hex()


def _hmac_key(directory: Path) -> str:
    return keyed_hash.load(directory / "secrets", "debtor").mac(b"13800138000").hex()


# Each reads (making it first if need be) one secret and returns what identifies it.
MAKERS: dict[str, tuple[Callable[[Path], str], str]] = {
    "node key": (_node_key, "node_key.pem"),
    "sealing key": (_sealing_key, "webhooks.key"),
    "hmac key": (_hmac_key, "secrets/debtor-hmac-v1.key"),
}
THREADS = 12
ROUNDS = 30


@pytest.mark.parametrize("secret", list(MAKERS))
def test_concurrent_threads_on_a_fresh_directory_agree_on_one_secret(
    secret: str, tmp_path: Path,
) -> None:
    make, name = MAKERS[secret]
    for round_ in range(ROUNDS):
        directory = tmp_path / str(round_)
        start = threading.Barrier(THREADS)

        def first_start(directory: Path = directory, start: threading.Barrier = start) -> str:
            start.wait()
            return make(directory)

        with ThreadPoolExecutor(THREADS) as pool:
            seen = list(pool.map(lambda _: first_start(), range(THREADS)))
        assert len(set(seen)) == 1, (round_, seen)
        made = directory / name
        assert stat.S_IMODE(made.stat().st_mode) == 0o600
        assert seen[0] == make(directory)  # a later start reads the same one
        # No draft is left behind beside it.
        assert [p.name for p in made.parent.iterdir()] == [made.name]


def _start_workers(directories: list[Path], at: float) -> list[str]:
    """A worker process's first start on each fresh directory, from the moment `at`."""
    time.sleep(max(0.0, at - time.time()))
    return [_node_key(directory) + _sealing_key(directory) + _hmac_key(directory)
            for directory in directories]


def test_concurrent_worker_processes_agree_on_every_secret(tmp_path: Path) -> None:
    directories = [tmp_path / str(n) for n in range(40)]
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(4) as workers:
        at = time.time() + 3  # after the four have started
        seen = workers.starmap(_start_workers, [(directories, at)] * 4)
    for n, directory in enumerate(directories):
        assert len({worker[n] for worker in seen}) == 1, directory
        for _, name in MAKERS.values():
            assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600


def test_a_secret_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "data" / "console.key"
    assert create_once(path, b"first")
    assert not create_once(path, b"second")
    assert path.read_bytes() == b"first"
    key = load_or_create(tmp_path / "node_key.pem")
    with pytest.raises(FileExistsError):
        write_private_key(tmp_path / "node_key.pem", key)
    assert public_jwk_of(load_or_create(tmp_path / "node_key.pem")) == public_jwk_of(key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "node_key.pem"]
