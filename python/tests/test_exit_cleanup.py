"""A Python process that exits with runs, Interactives and streams still
alive leaves no process behind (the module's atexit hook cancels them)."""

from __future__ import annotations

import sys
import textwrap

from bounded_subprocess import run
from bounded_subprocess.util import Result

from conftest import field_after

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from bounded_subprocess.bounded_subprocess_async import run, run_stream_lines
    from bounded_subprocess.interactive import Interactive
    from bounded_subprocess.interactive_async import Interactive as AsyncInteractive

    keep = []
    sync_proc = Interactive(["sleep", "1000"], 4096)
    print("group", sync_proc.pid, flush=True)
    keep.append(sync_proc)

    async def main():
        a = AsyncInteractive(["sleep", "1000"], 4096)
        print("group", a.pid, flush=True)
        keep.append(a)
        s = run_stream_lines([sys.argv[1], "fork-storm", "1"], timeout_seconds=1000)
        keep.append(s)
        line = await s.__anext__()
        print("group", line.split()[1], flush=True)
        t = asyncio.ensure_future(run(["sh", "-c", "echo $$ > " + sys.argv[2] + "; exec sleep 1000"],
                                      timeout_seconds=1000))
        keep.append(t)
        await asyncio.sleep(1)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())
    print("exiting", flush=True)
    # Exit without closing anything, the loop left open.
    """
)


def test_exit_kills_everything(misbehave, leaks, tmp_path):
    pidfile = tmp_path / "run.pid"
    r = run([sys.executable, "-c", SCRIPT, misbehave, str(pidfile)], timeout_seconds=60)
    assert "exiting" in r.stdout, r.stderr
    groups = [int(l.split()[1]) for l in r.stdout.splitlines() if l.startswith("group")]
    groups.append(int(pidfile.read_text()))
    assert len(groups) == 4, r.stdout
    for g in groups:
        leaks.track_group(g)
    # The interpreter exited by itself, not through our timeout.
    assert not r.timeout and r.elapsed_seconds < 50


def run_script(script: str, *args: str) -> "Result":
    """Runs a Python script that exits by itself; checks it exited cleanly
    (status 0, no abort: a daemon thread CPython ends during finalization
    must not unwind through a noexcept frame)."""
    r = run([sys.executable, "-c", textwrap.dedent(script), *args], timeout_seconds=60,
            max_output_size=1 << 16)
    assert not r.timeout and r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
    assert "terminate" not in r.stderr and "Fatal" not in r.stderr, r.stderr
    return r


WAIT_FOR_FILE = """
import os, time
def wait_for_file(path):
    deadline = time.monotonic() + 30
    while not (os.path.exists(path) and open(path).read().strip()):
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.01)
    return int(open(path).read().split()[0])
"""


def test_exit_kills_a_sync_run_blocked_in_a_daemon_thread(leaks, tmp_path):
    pidfile = tmp_path / "run.pid"
    r = run_script(WAIT_FOR_FILE + """
import sys, threading
from bounded_subprocess import run
pidfile = sys.argv[1]
threading.Thread(daemon=True, target=lambda: run(
    ["sh", "-c", "echo $$ > " + pidfile + "; exec sleep 1000"], timeout_seconds=1000)).start()
print("child", wait_for_file(pidfile), flush=True)
""", str(pidfile))
    leaks.track_group(int(pidfile.read_text()))
    assert "child" in r.stdout


def test_exit_kills_children_a_daemon_thread_keeps_starting(leaks, tmp_path):
    # The thread starts a new run as soon as one ends: the runs it starts
    # while the interpreter finalizes are killed too (at birth, at the end).
    pidfile = tmp_path / "runs.pid"
    run_script(WAIT_FOR_FILE + """
import sys, threading
from bounded_subprocess import run
pidfile = sys.argv[1]
def loop():
    while True:
        run(["sh", "-c", "echo $$ >> " + pidfile + "; exec sleep 1000"], timeout_seconds=1000)
threading.Thread(daemon=True, target=loop).start()
wait_for_file(pidfile)
""", str(pidfile))
    pids = [int(p) for p in pidfile.read_text().split()]
    assert pids
    for pid in pids:
        leaks.track_group(pid)


def test_exit_kills_an_interactive_busy_in_other_threads(misbehave, leaks):
    # read_line and write in progress in two daemon threads hold the
    # object's locks: the at-exit kill must not need them.
    r = run_script("""
import sys, threading, time
from bounded_subprocess.interactive import Interactive
proc = Interactive(["sleep", "1000"], 4096)   # reads nothing, writes nothing
print("group", proc.pid, flush=True)
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
""")
    leaks.track_group(field_after(r.stdout, "group"))


def test_forked_child_exit_leaves_the_parents_children_alone(leaks):
    # The child exits normally (atexit hooks, finalization, garbage
    # collection of its copies of the objects): the parent's Interactive,
    # async Interactive and run still work afterwards.
    r = run_script("""
import asyncio, os, sys
from bounded_subprocess.interactive import Interactive
from bounded_subprocess.interactive_async import Interactive as AsyncInteractive
proc = Interactive(["cat"], 4096)
aproc = AsyncInteractive(["cat"], 4096)
print("groups", proc.pid, aproc.pid, flush=True)
pid = os.fork()
if pid == 0:
    sys.exit(0)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
print("sync", proc.write(b"hi\\n", 5), proc.read_line(5), proc.close(5), flush=True)
async def main():
    return (await aproc.write(b"hi\\n", 5), await aproc.read_line(5), await aproc.close(5))
print("async", *asyncio.run(main()), flush=True)
""")
    words = r.stdout.split()
    leaks.track_group(int(words[1]))
    leaks.track_group(int(words[2]))
    lines = r.stdout.splitlines()
    assert "sync True b'hi' 0" in lines, r.stdout
    assert "async True b'hi' 0" in lines, r.stdout


def test_forked_child_exit_leaves_a_running_sync_run_alone(leaks, tmp_path):
    # A run in progress in a thread of the parent while a child is forked:
    # the child's exit does not kill it; the run ends by itself.
    pidfile = tmp_path / "run.pid"
    r = run_script(WAIT_FOR_FILE + """
import os, sys, threading
from bounded_subprocess import run
pidfile = sys.argv[1]
out = []
t = threading.Thread(target=lambda: out.append(run(
    ["sh", "-c", "echo $$ > " + pidfile + "; read line; echo got $line"],
    stdin_data="", timeout_seconds=1000, stdin_write_timeout=1000)))
t.start()
wait_for_file(pidfile)
pid = os.fork()
if pid == 0:
    sys.exit(0)
os.waitpid(pid, 0)
t.join()
print("result", out[0].exit_code, out[0].reason, flush=True)
""", str(pidfile))
    leaks.track_group(int(pidfile.read_text()))
    assert "result 0 exited" in r.stdout.splitlines(), r.stdout
