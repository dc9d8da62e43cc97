"""Signals during the sync waits, and close() from another thread.

A Python signal handler that raises (Ctrl-C: KeyboardInterrupt) during a
sync run or a sync Interactive call must raise at once, not after the
timeout; a run so abandoned leaves nothing behind (the leak check runs after
every test), an Interactive stays usable. close() from another thread ends a
pending read_line or write at once.

The signal comes from a thread that sends it only while the waiting thread
is blocked in ppoll (the library's wait), so that it lands in the wait the
test is about and not in Python code before the call, and sends it again
every 50 ms until the call has raised (a signal may be delivered to another
thread). The handler raises only while the test is armed, so a late signal
does nothing.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import signal
import threading
import time
from typing import Callable, Iterator, Type

import pytest

from bounded_subprocess import run
from bounded_subprocess.interactive import Interactive

# Generous bounds that catch a wait for the timeout (30 s or more), not a
# slow machine.
PROMPT = 15.0


# ppoll(2)'s number, for /proc/PID/task/TID/syscall.
_PPOLL = {"x86_64": 271, "aarch64": 73, "riscv64": 73}.get(platform.machine())


def in_ppoll(tid: int) -> bool:
    """Whether thread `tid` of this process is blocked in ppoll."""
    task = f"/proc/self/task/{tid}"
    try:
        if _PPOLL is not None:
            with open(f"{task}/syscall") as f:
                return f.read().split()[0] == str(_PPOLL)
        with open(f"{task}/wchan") as f:  # elsewhere: any poll-like wait
            return "poll" in f.read()
    except (OSError, IndexError):
        return False


def wait_until_in_ppoll(tid: int) -> None:
    deadline = time.monotonic() + PROMPT
    while not in_ppoll(tid):
        assert time.monotonic() < deadline, f"thread {tid} never waited in ppoll"
        time.sleep(0.005)


class Custom(Exception):
    """What a handler of SIGWINCH raises in these tests (a signal whose
    default action is to be ignored, so that a stray one is harmless)."""


@contextlib.contextmanager
def signals_while_waiting(sig: int, exc: Type[BaseException]) -> Iterator[None]:
    """Sends `sig` to this process every 50 ms, with a handler that raises
    `exc`, for the body of the with statement (which must raise it)."""
    armed = threading.Event()
    stop = threading.Event()

    def handler(signum, frame):
        if armed.is_set():
            armed.clear()  # raise once: the next signals find the test disarmed
            raise exc()

    def sender():
        main = os.getpid()  # the main thread's id
        while not stop.wait(0.05):
            if in_ppoll(main):
                os.kill(main, sig)

    old = signal.signal(sig, handler)
    armed.set()
    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        yield
    finally:
        armed.clear()
        stop.set()
        thread.join()
        # Every signal sent has reached its C handler by now; let Python run
        # the (disarmed) handler for any still pending before restoring.
        _python_call()
        signal.signal(sig, old)


def _python_call() -> None:
    """A Python-level call: the interpreter runs pending signal handlers
    when a Python function starts."""


@pytest.fixture
def start(leaks):
    """Starts an Interactive; closes each one left open after the test (in
    a thread, bounded: on the code before the fix a close could hang), so
    that a failing test does not fail the next ones."""
    procs = []

    def start_one(*argv: str) -> Interactive:
        proc = Interactive(list(argv), 4096)
        leaks.track_group(proc.pid)
        procs.append(proc)
        return proc

    yield start_one
    for proc in procs:
        closer = threading.Thread(target=proc.close, args=(0,), daemon=True)
        closer.start()
        closer.join(PROMPT)
        assert not closer.is_alive(), "close(0) hangs"


CASES = [(signal.SIGINT, KeyboardInterrupt), (signal.SIGWINCH, Custom)]


@pytest.mark.parametrize("sig,exc", CASES)
def test_signal_abandons_sync_run(sig, exc, leaks):
    t0 = time.monotonic()
    with pytest.raises(exc):
        with signals_while_waiting(sig, exc):
            run(["sleep", "30"], timeout_seconds=60)
    assert time.monotonic() - t0 < PROMPT
    leaks.check()  # the run is killed and reaped before the exception


def test_signal_abandons_run_whose_group_ignores_sigint(misbehave, leaks):
    # A child that ignores SIGINT and holds the pipes through a grandchild:
    # the abandoned run still ends everything it started.
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with signals_while_waiting(signal.SIGINT, KeyboardInterrupt):
            run(["sh", "-c", f"trap '' INT; {misbehave} fork-grandchild-sleep; sleep 60"],
                timeout_seconds=60)
    assert time.monotonic() - t0 < PROMPT
    leaks.check()


@pytest.mark.parametrize("sig,exc", CASES)
def test_signal_interrupts_read_line_and_the_object_stays_usable(sig, exc, start):
    proc = start("cat")
    t0 = time.monotonic()
    with pytest.raises(exc):
        with signals_while_waiting(sig, exc):
            proc.read_line(60)
    assert time.monotonic() - t0 < PROMPT
    assert proc.write(b"still here\n", 30)
    assert proc.read_line(30) == b"still here"
    assert proc.close(30) == 0


def test_signal_interrupts_write(misbehave, start):
    proc = start(misbehave, "sleep-forever")  # never reads stdin
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with signals_while_waiting(signal.SIGINT, KeyboardInterrupt):
            proc.write(b"x" * (8 << 20), 60)
    assert time.monotonic() - t0 < PROMPT
    assert proc.close(0) == -9


def test_signal_interrupts_close_and_a_second_close_kills(misbehave, start):
    proc = start(misbehave, "echo-ignore-eof")  # outlives EOF
    assert proc.read_line(60).startswith(b"grandchild ")  # it ignores SIGPIPE now
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with signals_while_waiting(signal.SIGINT, KeyboardInterrupt):
            proc.close(60)
    assert time.monotonic() - t0 < PROMPT
    assert proc.close(0) == -9


def test_signal_in_another_thread_leaves_its_run_alone(misbehave, leaks):
    # Python runs handlers in the main thread only: a signal that interrupts
    # a worker's wait must not disturb that run, which ends as it would have.
    result = []
    started = threading.Event()

    def worker():
        started.set()
        result.append(run([misbehave, "exit-after-ms", "1500", "0"], timeout_seconds=60))

    got = []
    old = signal.signal(signal.SIGWINCH, lambda *_: got.append(1))
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        started.wait()
        while thread.is_alive():
            signal.pthread_kill(thread.ident, signal.SIGWINCH)
            thread.join(0.05)
    finally:
        signal.signal(signal.SIGWINCH, old)
    assert got, "the handler never ran"
    assert len(result) == 1
    assert (result[0].exit_code, result[0].timeout) == (0, False)


def test_signal_in_another_thread_leaves_its_read_line_alone(start):
    proc = start("cat")
    lines = []
    thread = threading.Thread(target=lambda: lines.append(proc.read_line(60)))
    got = []
    old = signal.signal(signal.SIGWINCH, lambda *_: got.append(1))
    try:
        thread.start()
        for _ in range(20):
            signal.pthread_kill(thread.ident, signal.SIGWINCH)
            time.sleep(0.02)
        assert proc.write(b"line\n", 30)
        thread.join(PROMPT)
    finally:
        signal.signal(signal.SIGWINCH, old)
    assert not thread.is_alive()
    assert lines == [b"line"]
    assert proc.close(30) == 0


# --- close() from another thread --------------------------------------------


def _close_from_another_thread(proc: Interactive, pending: Callable[[], object]) -> tuple:
    """Starts `pending()` in a thread, lets it wait, closes from a second
    thread; returns (what pending returned, close's code, seconds taken by
    close). Both threads must end within PROMPT."""
    out: dict = {}
    waiter = threading.Thread(target=lambda: out.update(pending=pending()), daemon=True)
    waiter.start()
    wait_until_in_ppoll(waiter.native_id)
    t0 = time.monotonic()
    closer = threading.Thread(target=lambda: out.update(code=proc.close(0)), daemon=True)
    closer.start()
    closer.join(PROMPT)
    waiter.join(PROMPT)
    took = time.monotonic() - t0
    assert not closer.is_alive(), "close() is blocked by the pending call"
    assert not waiter.is_alive(), "the pending call was not interrupted"
    return out["pending"], out["code"], took


@pytest.mark.parametrize("timeout", [60, math.inf])
def test_close_ends_a_pending_read_line(timeout, misbehave, start):
    proc = start(misbehave, "sleep-forever")
    line, code, took = _close_from_another_thread(proc, lambda: proc.read_line(timeout))
    assert line is None
    assert code == -9
    assert took < PROMPT


@pytest.mark.parametrize("timeout", [60, math.inf])
def test_close_ends_a_pending_write(timeout, misbehave, start):
    proc = start(misbehave, "sleep-forever")  # never reads stdin
    ok, code, took = _close_from_another_thread(proc, lambda: proc.write(b"x" * (8 << 20), timeout))
    assert ok is False
    assert code == -9
    assert took < PROMPT


def test_close_ends_a_pending_read_line_and_write_at_once(misbehave, start):
    proc = start(misbehave, "sleep-forever")
    out: dict = {}
    threads = [
        threading.Thread(target=lambda: out.update(line=proc.read_line(math.inf)), daemon=True),
        threading.Thread(target=lambda: out.update(ok=proc.write(b"y" * (8 << 20), math.inf)), daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        wait_until_in_ppoll(t.native_id)
    closer = threading.Thread(target=lambda: out.update(code=proc.close(0)), daemon=True)
    closer.start()
    for t in [closer, *threads]:
        t.join(PROMPT)
        assert not t.is_alive()
    assert out == {"line": None, "ok": False, "code": -9}
    # Closed: the calls now return at once, and close the same code.
    assert proc.read_line(math.inf) is None
    assert proc.write(b"z\n", math.inf) is False
    assert proc.close(math.inf) == -9


# In a child of os.fork() called from a thread, that thread is the main
# thread: Ctrl-C must end its run there too.
_FORK_FROM_A_THREAD = r"""
import os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
from test_interrupt import in_ppoll
from bounded_subprocess import run

# Python leaves SIGINT ignored when it starts with it ignored (a harness
# started in the background by a non-interactive shell): this test needs
# Python's own handler, which raises KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)

def child():
    stop = threading.Event()

    def sender():
        while not stop.wait(0.05):
            if in_ppoll(os.getpid()):  # the only thread left: tid == pid
                os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=sender, daemon=True).start()
    t0 = time.monotonic()
    try:
        run(["sleep", "30"], timeout_seconds=60)
        code = 3
    except KeyboardInterrupt:
        code = 0 if time.monotonic() - t0 < float(sys.argv[2]) else 4
    stop.set()
    os._exit(code)

status = []
def forker():
    pid = os.fork()
    if pid == 0:
        child()
    status.append(os.waitpid(pid, 0)[1])

run(["true"])  # the module is loaded before the fork
t = threading.Thread(target=forker)
t.start()
t.join()
sys.exit(os.waitstatus_to_exitcode(status[0]))
"""


def test_signal_abandons_a_run_in_a_child_forked_from_a_thread(leaks):
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run([sys.executable, "-c", _FORK_FROM_A_THREAD, here, str(PROMPT)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr)
