"""A Python process that exits with runs, Interactives and streams still
alive leaves no process behind (the module's atexit hook cancels them)."""

from __future__ import annotations

import sys
import textwrap

from bounded_subprocess import run

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
