"""Shared fixtures: the helper program, and the leak checks run after every test.

After each test: no child of this process is left (running or zombie), the
process groups and pids a test registered with `leaks.track_*` are gone, and
this process holds the same pipes, pidfds, eventfds and files as before.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Dict, Iterable, List, Set

import pytest

import bounded_subprocess

# The package under test must be the one meant: the build folder
# (BS_PY_BUILD_DIR, the CTest run), or a copy installed by pip into the
# running interpreter's environment (BS_PY_INSTALLED=1, scripts/test.sh).
_BUILD_DIR = os.environ.get("BS_PY_BUILD_DIR")
if _BUILD_DIR:
    assert Path(bounded_subprocess.__file__).resolve().is_relative_to(
        Path(_BUILD_DIR).resolve()
    ), f"imported {bounded_subprocess.__file__}, expected the build in {_BUILD_DIR}"
INSTALLED = os.environ.get("BS_PY_INSTALLED") == "1"
if INSTALLED:
    import sys

    assert "PYTHONPATH" not in os.environ, "the installed package needs no PYTHONPATH"
    assert Path(bounded_subprocess.__file__).resolve().is_relative_to(
        Path(sys.prefix).resolve()
    ), f"imported {bounded_subprocess.__file__}, expected the one installed in {sys.prefix}"


def _find_misbehave() -> str:
    path = os.environ.get("BS_MISBEHAVE")
    if path:
        return path
    # Default layout: <build>/python/bounded_subprocess and <build>/tests/helper.
    guess = Path(bounded_subprocess.__file__).resolve().parents[2] / "tests/helper/bs_misbehave"
    return str(guess)


MISBEHAVE = _find_misbehave()


def _start_reactor() -> None:
    """The first async operation starts the native module's event-loop thread,
    which keeps a few fds (epoll, eventfd, timerfd) for the life of the
    process. Start it before any test, so the per-test fd check sees only
    what a test leaves behind."""
    import asyncio

    from bounded_subprocess.bounded_subprocess_async import run

    assert asyncio.run(run(["true"], timeout_seconds=30)).exit_code == 0


_start_reactor()


@pytest.fixture
def quiet_login_shell(monkeypatch, tmp_path):
    """The original Python library's async example runs `bash -lc`; a login shell sources
    ~/.profile, which on a developer machine may run slow init hooks (pyenv)
    that take seconds under load, past the example's 5 s timeout. An empty
    HOME keeps the example about the library."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def system_python_first(monkeypatch):
    """The original Python library's examples run "python3" from PATH. A pyenv shim first in PATH
    takes seconds to start on a loaded machine (longer than the examples'
    1 s timeouts): put /usr/bin first so that python3 is the system one."""
    monkeypatch.setenv("PATH", "/usr/bin:" + os.environ.get("PATH", ""))


@pytest.fixture(scope="session")
def misbehave() -> str:
    """Absolute path of the bs_misbehave helper (see tests/helper/misbehave.cpp)."""
    assert os.access(MISBEHAVE, os.X_OK), f"bs_misbehave not built at {MISBEHAVE}"
    return MISBEHAVE


def pattern(offset: int, n: int) -> bytes:
    """n bytes of bs_misbehave's PATTERN from byte `offset`."""
    return bytes(
        10 if i % 64 == 63 else ord("a") + i % 26 for i in range(offset, offset + n)
    )


def field_after(text: str, name: str) -> int:
    """The integer after `name ` in text, e.g. field_after(out, "pgid")."""
    words = text.split()
    return int(words[words.index(name) + 1])


# --- /proc scanning ---------------------------------------------------------


def _proc_stats() -> Iterable[List[str]]:
    """(pid, state, ppid, pgrp) of every process, as strings."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                data = f.read().decode("ascii", "replace")
        except OSError:
            continue
        rest = data[data.rindex(")") + 2 :].split()
        yield [entry.name, rest[0], rest[1], rest[2]]


def _become_subreaper() -> None:
    """Orphans of the runs are re-parented to the test process instead of
    init, so that a process a run left behind is always its descendant."""
    import ctypes

    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0


_become_subreaper()


def _leftovers(pgids: Set[int], pids: Set[int]) -> List[str]:
    """Descendants of the test process that a test left behind. Only
    descendants count: ids a helper printed from inside a PID namespace are
    that namespace's numbers, and the host processes that happen to carry
    them are not ours."""
    me = str(os.getpid())
    stats = {pid: (state, ppid, pgrp) for pid, state, ppid, pgrp in _proc_stats()}

    def mine(pid: str) -> bool:
        for _ in range(4096):
            ppid = stats.get(pid, (None, "0", None))[1]
            if ppid == me:
                return True
            if ppid in ("0", "1") or ppid not in stats:
                return False
            pid = ppid
        return False

    found = []
    for pid, (state, ppid, pgrp) in stats.items():
        if ppid == me:
            found.append(f"child {pid} (state {state}) of the test process")
        elif not mine(pid):
            continue
        elif int(pgrp) in pgids:
            found.append(f"process {pid} (state {state}) in group {pgrp}")
        elif int(pid) in pids and state != "Z":
            found.append(f"process {pid} (state {state})")
        elif state != "Z":
            found.append(f"descendant {pid} (state {state}) of the test process")
    return found


_IGNORED_FD_KINDS = ("socket:", "anon_inode:[eventpoll]", "anon_inode:[signalfd]")


def _open_fds() -> Dict[int, str]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the listing's own fd
        # The asyncio loop's own fds come and go with pytest-asyncio's loop.
        if target.startswith(_IGNORED_FD_KINDS):
            continue
        # pytest's output capture swaps 0, 1 and 2 around the test.
        if int(name) <= 2:
            continue
        fds[int(name)] = target
    return fds


def _drop_warm_sandboxes() -> None:
    """Ends this process's idle warm sandboxes (the library's cache, not a
    test's leftovers), and reaps those of host processes that ended (a
    forked child's): adopted by this subreaper, they end by themselves."""
    from bounded_subprocess import _native

    _native.drop_warm_sandboxes()
    me = str(os.getpid())
    for pid, state, ppid, _ in _proc_stats():
        if ppid != me or state != "Z":
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "bs-warm":
                    continue
            os.waitpid(int(pid), os.WNOHANG)
        except OSError:
            pass


class LeakCheck:
    """Collects what a test started, and checks it is gone afterwards."""

    def __init__(self) -> None:
        self.pgids: Set[int] = set()
        self.pids: Set[int] = set()
        # The library's idle warm sandboxes (processes and fds) are its
        # cache, not a test's leftovers: dropped before and after.
        _drop_warm_sandboxes()
        self.fds_before = _open_fds()

    def track_group(self, pgid: int) -> None:
        assert pgid > 1
        self.pgids.add(pgid)

    def track_pid(self, pid: int) -> None:
        assert pid > 1
        self.pids.add(pid)

    def check(self, grace_seconds: float = 3.0) -> None:
        # SIGKILLed descendants are reparented and reaped by init a moment
        # after the run returns: allow a grace period (an upper bound only).
        deadline = time.monotonic() + grace_seconds
        _drop_warm_sandboxes()
        while True:
            _drop_warm_sandboxes()
            left = _leftovers(self.pgids, self.pids)
            fds_after = _open_fds()
            leaked_fds = {fd: t for fd, t in fds_after.items() if self.fds_before.get(fd) != t}
            if not left and not leaked_fds:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert not left, f"processes left behind: {left}"
        assert not leaked_fds, f"fds leaked: {leaked_fds}"


@pytest.fixture(autouse=True)
def leaks():
    """Every test gets a leak check; tests register the pgids they learn."""
    check = LeakCheck()
    yield check
    check.check()


# --- a suite that collects nothing must fail --------------------------------


def pytest_collection_finish(session):
    minimum = int(os.environ.get("BS_PY_MIN_TESTS", "0"))
    if len(session.items) < minimum:
        raise pytest.UsageError(
            f"collected {len(session.items)} tests, expected at least {minimum}"
        )


def have_python3() -> bool:
    return shutil.which("python3") is not None


def pytest_sessionfinish(session, exitstatus):
    """With BS_PY_SKIP_EXIT_CODE set (the CTest podman test), a run in which
    every test was skipped exits with that code, so that CTest reports the
    test as skipped rather than passed."""
    code = os.environ.get("BS_PY_SKIP_EXIT_CODE")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not code or reporter is None or exitstatus != 0:
        return
    stats = reporter.stats
    ran = sum(len(stats.get(k, [])) for k in ("passed", "failed", "error"))
    if ran == 0 and stats.get("skipped"):
        session.exitstatus = int(code)
