"""A Python process that exits with runs, Interactives and streams still
alive leaves no process behind (the module's atexit hook kills them), and a
forked child's exit leaves its parent's children alone.

Each script runs in a run with containment "process_group", so that what it
leaves behind is not cleaned up by the test's own run: its orphans become
children of this test process (a subreaper, see conftest), where the leak
check sees them. The children inside the scripts are started with the
containment under test: "process_group" (where only the atexit hook can kill
them) and the machine's default (whose init also ends its run when the
process goes away)."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from typing import Dict

import pytest

from bounded_subprocess import run
from bounded_subprocess.util import Result

from conftest import field_after

CONTAINMENTS = ["process_group", "default"]

HEADER = """
import os, sys, time
C = None if sys.argv[-1] == "default" else sys.argv[-1]   # the containment under test
def wait_for_file(path):
    deadline = time.monotonic() + 30
    while not (os.path.exists(path) and open(path).read().strip()):
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.01)
"""


def _children() -> Dict[int, str]:
    """pid -> state of this process's children."""
    me = str(os.getpid())
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    rest = f.read().decode("ascii", "replace").rsplit(")", 1)[1].split()
            except OSError:
                continue
            if rest[1] == me:
                out[int(entry.name)] = rest[0]
    return out


def run_script(script: str, *args: str) -> Result:
    """Runs a Python script that exits by itself; checks it exited cleanly
    (status 0, no abort from a thread CPython ends during finalization) and
    left nothing running.

    What the script started is orphaned when it exits and becomes a child of
    this process (a subreaper): it must be dead (a zombie) within a grace
    period, or the script's exit left it running. The zombies, orphans of
    the script and not children of this process's runs (those are all
    reaped before a test ends), are reaped here."""
    before = set(_children())
    r = run([sys.executable, "-c", HEADER + textwrap.dedent(script), *args], timeout_seconds=60,
            max_output_size=1 << 16, containment="process_group")
    assert not r.timeout and r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
    assert "terminate" not in r.stderr and "Fatal" not in r.stderr, r.stderr
    deadline = time.monotonic() + 10
    while True:
        orphans = {pid: state for pid, state in _children().items() if pid not in before}
        alive = {pid: state for pid, state in orphans.items() if state != "Z"}
        # Reaped as they come, as init would: a warm sandbox's init ends its
        # namespace only once every process of it is reaped, and a program
        # whose shepherd was killed is an orphan of ours.
        for pid, state in orphans.items():
            if state == "Z":
                os.waitpid(pid, 0)
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not alive, f"the script left these running: {alive}"
    return r


@pytest.mark.parametrize("containment", CONTAINMENTS)
def test_exit_kills_everything(misbehave, leaks, containment):
    r = run_script("""
        import asyncio
        from bounded_subprocess.bounded_subprocess_async import run, run_stream_lines
        from bounded_subprocess.interactive import Interactive
        from bounded_subprocess.interactive_async import Interactive as AsyncInteractive

        keep = []
        keep.append(Interactive(["sleep", "1000"], 4096, containment=C))

        async def main():
            keep.append(AsyncInteractive(["sleep", "1000"], 4096, containment=C))
            s = run_stream_lines([sys.argv[1], "fork-storm", "1"], timeout_seconds=1000,
                                 containment=C)
            keep.append(s)
            await s.__anext__()
            t = asyncio.ensure_future(run([sys.argv[1], "fork-storm", "1"], timeout_seconds=1000,
                                          containment=C))
            keep.append(t)
            await asyncio.sleep(1)

        loop = asyncio.new_event_loop()
        loop.run_until_complete(main())
        print("exiting", flush=True)
        # Exit without closing anything, the loop left open.
        """, misbehave, containment)
    assert "exiting" in r.stdout, r.stderr
    # The interpreter exited by itself, not through our timeout.
    assert r.elapsed_seconds < 50


@pytest.mark.parametrize("containment", CONTAINMENTS)
def test_exit_kills_a_sync_run_blocked_in_a_daemon_thread(leaks, tmp_path, containment):
    started = tmp_path / "started"
    run_script("""
        import threading
        from bounded_subprocess import run
        started = sys.argv[1]
        threading.Thread(daemon=True, target=lambda: run(
            ["sh", "-c", "echo yes > " + started + "; exec sleep 1000"], timeout_seconds=1000,
            containment=C)).start()
        wait_for_file(started)
        """, str(started), containment)


@pytest.mark.parametrize("containment", CONTAINMENTS)
def test_exit_kills_children_a_daemon_thread_keeps_starting(leaks, tmp_path, containment):
    # The thread starts a new run as soon as one ends: the runs it starts
    # while the interpreter finalizes are not left behind either.
    started = tmp_path / "started"
    run_script("""
        import threading
        from bounded_subprocess import run
        started = sys.argv[1]
        def loop():
            while True:
                run(["sh", "-c", "echo yes >> " + started + "; exec sleep 1000"],
                    timeout_seconds=1000, containment=C)
        threading.Thread(daemon=True, target=loop).start()
        wait_for_file(started)
        """, str(started), containment)


@pytest.mark.parametrize("containment", CONTAINMENTS)
def test_exit_kills_an_interactive_busy_in_other_threads(leaks, containment):
    # read_line and write in progress in two daemon threads hold the
    # object's locks: the at-exit kill must not need them.
    run_script("""
        import threading
        from bounded_subprocess.interactive import Interactive
        proc = Interactive(["sleep", "1000"], 4096, containment=C)   # reads and writes nothing
        started = threading.Barrier(3)
        def read():
            started.wait()
            proc.read_line(1000)
        def write():
            started.wait()
            proc.write(b"x" * (8 << 20), 1000)       # more than the pipe takes
        for target in (read, write):
            threading.Thread(daemon=True, target=target).start()
        started.wait()
        time.sleep(0.3)                               # let both block in C++
        """, containment)


@pytest.mark.parametrize("containment", CONTAINMENTS)
def test_forked_child_exit_leaves_the_parents_children_alone(leaks, containment):
    # The child exits normally (atexit hooks, finalization, garbage
    # collection of its copies of the objects): the parent's Interactive and
    # async Interactive still work afterwards.
    r = run_script("""
        import asyncio
        from bounded_subprocess.interactive import Interactive
        from bounded_subprocess.interactive_async import Interactive as AsyncInteractive
        proc = Interactive(["cat"], 4096, containment=C)
        aproc = AsyncInteractive(["cat"], 4096, containment=C)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        print("sync", proc.write(b"hi\\n", 5), proc.read_line(5), proc.close(5), flush=True)
        async def main():
            return (await aproc.write(b"hi\\n", 5), await aproc.read_line(5), await aproc.close(5))
        print("async", *asyncio.run(main()), flush=True)
        """, containment)
    lines = r.stdout.splitlines()
    assert "sync True b'hi' 0" in lines, r.stdout
    assert "async True b'hi' 0" in lines, r.stdout


@pytest.mark.parametrize("containment", CONTAINMENTS)
def test_forked_child_exit_leaves_a_running_sync_run_alone(leaks, tmp_path, containment):
    # A run in progress in a thread of the parent while a child is forked:
    # the child's exit does not kill it; the run ends by itself.
    started = tmp_path / "started"
    r = run_script("""
        import threading
        from bounded_subprocess import run
        started = sys.argv[1]
        out = []
        t = threading.Thread(target=lambda: out.append(run(
            ["sh", "-c", "echo yes > " + started + "; read line; echo got $line"],
            stdin_data="", timeout_seconds=1000, stdin_write_timeout=1000, containment=C)))
        t.start()
        wait_for_file(started)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        os.waitpid(pid, 0)
        t.join()
        print("result", out[0].exit_code, out[0].reason, flush=True)
        """, str(started), containment)
    assert "result 0 exited" in r.stdout.splitlines(), r.stdout
