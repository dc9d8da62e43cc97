"""The containment options (keyword-only extras of every face) and
Result.containment / Interactive.containment."""

from __future__ import annotations

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
