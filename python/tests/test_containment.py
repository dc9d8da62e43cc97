"""The containment options (keyword-only extras of every face) and
Result.containment / Interactive.containment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from bounded_subprocess import run
from bounded_subprocess import bounded_subprocess_async as aio
from bounded_subprocess.interactive import Interactive
from bounded_subprocess.interactive_async import Interactive as AsyncInteractive

NAMES = ("process_group", "subreaper", "pid_namespace", "cgroup")


def test_default_is_the_strongest_available(misbehave):
    r = run([misbehave, "exit", "0"])
    assert r.containment in NAMES
    # Every mechanism up to the default one is there too.
    for name in NAMES[: NAMES.index(r.containment) + 1]:
        assert run([misbehave, "exit", "0"], containment=name).containment == name


async def test_every_face_takes_the_options(misbehave, leaks):
    kw = dict(containment="process_group", min_containment="process_group")
    assert run([misbehave, "exit", "3"], **kw).containment == "process_group"
    r = await aio.run([misbehave, "exit", "3"], **kw)
    assert (r.exit_code, r.containment) == (3, "process_group")
    lines = [line async for line in aio.run_stream_lines(["echo", "x"], **kw)]
    assert lines == ["x"]
    for cls in (Interactive, AsyncInteractive):
        proc = cls(["cat"], 4096, **kw)
        leaks.track_group(proc.pid)
        assert proc.containment == "process_group"
        code = proc.close(5)
        if cls is AsyncInteractive:
            code = await code
        assert code == 0


def test_results_of_one_containment_compare_equal(misbehave):
    args = [misbehave, "out-err", "o", "e"]
    assert run(args, containment="process_group") == run(args, containment="process_group")


@pytest.mark.parametrize("what", ["containment", "min_containment"])
async def test_bad_names(what):
    with pytest.raises(ValueError, match=what):
        run(["true"], **{what: "jail"})
    with pytest.raises(ValueError, match=what):
        await aio.run(["true"], **{what: "jail"})
    with pytest.raises(ValueError, match=what):
        Interactive(["cat"], 4096, **{what: "jail"})
    with pytest.raises(TypeError, match=what):
        run(["true"], **{what: 3})


# --- what the default containment holds, and what the machine lacks ---------

ESCAPES = {
    "setsid-helper": lambda m: [m, "escape", "setsid", "exit"],
    "setsid-shell": lambda m: ["sh", "-c", "setsid sleep 1000 & exit 0"],
    "daemon": lambda m: [m, "escape", "daemon", "exit"],
}


@pytest.mark.parametrize("escape", sorted(ESCAPES))
async def test_an_escape_leaves_nothing_under_the_default(escape, misbehave, leaks):
    # The test process is a subreaper (conftest): an escapee that outlived
    # its run would be its descendant, and the leak check would see it.
    argv = ESCAPES[escape](misbehave)
    r = run(argv, timeout_seconds=60)
    assert r.containment != "process_group"  # the default is stronger here
    assert (r.exit_code, r.timeout) == (0, False), r
    if argv[0] == misbehave:
        assert r.stdout.startswith("escaped "), r  # the escapee was alive then
    leaks.check()
    r = await aio.run(argv, timeout_seconds=60)
    assert (r.exit_code, r.timeout) == (0, False), r
    leaks.check()
    proc = Interactive(argv, 4096)
    if argv[0] == misbehave:
        assert proc.read_line(60).startswith(b"escaped ")
    assert proc.close(60) == 0
    leaks.check()


# Run in a separate interpreter: asks for each mechanism stronger than the
# default there (which the machine lacks) through every entry point, and prints
# what each raised.
_ASK_WHAT_IS_MISSING = r"""
import asyncio, json
from bounded_subprocess import run
from bounded_subprocess import bounded_subprocess_async as aio
from bounded_subprocess.interactive import Interactive

NAMES = ("process_group", "subreaper", "pid_namespace", "cgroup")
default = run(["true"]).containment
out = {"default": default, "errors": []}
for name in NAMES[NAMES.index(default) + 1 :]:
    for face, call in [
        ("run", lambda: run(["true"], containment=name)),
        ("run min", lambda: run(["true"], min_containment=name)),
        ("async run", lambda: asyncio.run(aio.run(["true"], containment=name))),
        ("Interactive", lambda: Interactive(["cat"], 4096, containment=name)),
    ]:
        try:
            call()
            out["errors"].append([name, face, None, None, None])
        except BaseException as e:
            out["errors"].append([name, face, type(e).__name__, getattr(e, "errno", None), str(e)])
print(json.dumps(out))
"""


def _lacking_mechanisms(misbehave):
    """(default, errors) from an interpreter that lacks a mechanism: this
    one if the default here is not the strongest, else one in a new user
    namespace (no mapped uid: no cgroup is writable, and no PID namespace
    for an unprivileged user there)."""
    default = run([misbehave, "exit", "0"]).containment
    prefix = []
    if default == NAMES[-1]:
        if shutil.which("unshare") is None:
            pytest.skip("every containment is available here and unshare(1) is missing")
        prefix = ["unshare", "--user"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run(prefix + [sys.executable, "-c", _ASK_WHAT_IS_MISSING],
                       capture_output=True, text=True, env=env, timeout=120)
    if prefix and p.returncode != 0 and "unshare" in p.stderr:
        pytest.skip(f"every containment is available here and unshare fails: {p.stderr.strip()}")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    return out["default"], out["errors"]


def test_asking_for_what_the_machine_lacks_is_a_clear_error(misbehave):
    default, errors = _lacking_mechanisms(misbehave)
    lacking = NAMES[NAMES.index(default) + 1 :]
    assert lacking, f"the default {default!r} is the strongest: nothing to ask for"
    assert {(name, face) for name, face, *_ in errors} == {
        (name, face) for name in lacking for face in ("run", "run min", "async run", "Interactive")
    }
    for name, face, exc, errno, message in errors:
        # An OSError (not a ValueError: the arguments are right, the
        # machine is not) that names the mechanism and says why.
        assert exc == "OSError", (name, face, exc, message)
        assert errno is not None, (name, face, message)
        expected = (f"no containment at least as strong as '{name}' is available here: "
                    if face == "run min" else f"containment '{name}' is not available here: ")
        assert expected in message, (name, face, message)


def _reap_adopted_orphans() -> None:
    # The test process is a child subreaper: what a killed init leaves is
    # re-parented to it, and a subreaper reaps what it adopts.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def test_a_program_that_kills_its_subreaper_init(misbehave):
    # Before: ChildProcessError, and sh and both sleeps kept running.
    if NAMES.index(run([misbehave, "exit", "0"]).containment) < NAMES.index("subreaper"):
        pytest.skip("no subreaper containment here")
    r = run(["sh", "-c", "sleep 331 & sleep 0.5; kill -9 $PPID; sleep 333"], 30, containment="subreaper")
    _reap_adopted_orphans()
    assert r.reason == "containment_broken"
    assert r.timeout is False
    # The host (this process, a subreaper) became the program's parent, so
    # the program's true status was had: the SIGKILL the host sent.
    assert r.exit_code == -9
    assert r.elapsed_seconds < 25
