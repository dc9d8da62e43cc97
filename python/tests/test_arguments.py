"""Integer arguments out of range give a ValueError naming the argument, in
every face, before anything starts (issue 9, item 13: pybind11 used to raise
its raw "incompatible function arguments" TypeError)."""

from __future__ import annotations

import pytest

from bounded_subprocess import run
from bounded_subprocess import bounded_subprocess_async as aio
from bounded_subprocess.interactive import Interactive
from bounded_subprocess.interactive_async import Interactive as AsyncInteractive

HUGE = 2**70  # past std::size_t
TOO_BIG_FOR_A_FLOAT = 10**400

RUN_INTEGERS = [
    ("max_output_size", HUGE),
    ("memory_limit_mb", HUGE),
    ("timeout_seconds", TOO_BIG_FOR_A_FLOAT),
    ("stdin_write_timeout", TOO_BIG_FOR_A_FLOAT),
    ("memory_watchdog_interval_seconds", TOO_BIG_FOR_A_FLOAT),
]


@pytest.mark.parametrize("name,value", RUN_INTEGERS)
def test_sync_run(name, value):
    with pytest.raises(ValueError, match=name):
        run(["true"], **{name: value})


@pytest.mark.parametrize("name,value", RUN_INTEGERS)
async def test_async_run(name, value):
    with pytest.raises(ValueError, match=name):
        await aio.run(["true"], **{name: value})


@pytest.mark.parametrize("name,value", [
    ("max_line_size", HUGE),
    ("stderr_max_output_size", HUGE),
    ("memory_limit_mb", HUGE),
    ("timeout_seconds", TOO_BIG_FOR_A_FLOAT),
    ("stdin_write_timeout", TOO_BIG_FOR_A_FLOAT),
    ("memory_watchdog_interval_seconds", TOO_BIG_FOR_A_FLOAT),
])
async def test_run_stream_lines(name, value):
    with pytest.raises(ValueError, match=name):
        await aio.run_stream_lines(["true"], **{name: value}).__anext__()


@pytest.mark.parametrize("name,value", [
    ("max_output_size", HUGE),
    ("memory_limit_mb", HUGE),
    ("timeout_seconds", TOO_BIG_FOR_A_FLOAT),
    ("stdin_write_timeout", TOO_BIG_FOR_A_FLOAT),
])
async def test_podman_run(name, value, tmp_path):
    # Checked before podman is started (a podman that does not exist here).
    kwargs = dict(image="img", timeout_seconds=5, max_output_size=10,
                  podman_path=str(tmp_path / "no-podman"))
    kwargs[name] = value
    with pytest.raises(ValueError, match=name):
        await aio.podman_run(["true"], **kwargs)


@pytest.mark.parametrize("name,value", [
    ("max_line_size", HUGE),
    ("stderr_max_output_size", HUGE),
    ("memory_limit_mb", HUGE),
    ("timeout_seconds", TOO_BIG_FOR_A_FLOAT),
])
async def test_podman_run_stream_lines(name, value, tmp_path):
    kwargs = dict(image="img", timeout_seconds=5, max_line_size=10,
                  podman_path=str(tmp_path / "no-podman"))
    kwargs[name] = value
    with pytest.raises(ValueError, match=name):
        await aio.podman_run_stream_lines(["true"], **kwargs).__anext__()


@pytest.mark.parametrize("cls", [Interactive, AsyncInteractive])
def test_interactive_read_buffer_size(cls):
    with pytest.raises(ValueError, match="read_buffer_size"):
        cls(["cat"], read_buffer_size=HUGE)
    with pytest.raises(ValueError, match="read_buffer_size"):
        cls(["cat"], HUGE)


def test_interactive_timeouts(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    with pytest.raises(ValueError, match="timeout_seconds"):
        proc.write(b"x", TOO_BIG_FOR_A_FLOAT)
    with pytest.raises(ValueError, match="timeout_seconds"):
        proc.read_line(TOO_BIG_FOR_A_FLOAT)
    with pytest.raises(ValueError, match="nice_timeout_seconds"):
        proc.close(TOO_BIG_FOR_A_FLOAT)
    # Large but finite timeouts are fine (clamped in C++).
    assert proc.write(b"x\n", HUGE) and proc.read_line(HUGE) == b"x"
    assert proc.close(5) == 0


async def test_async_interactive_timeouts(leaks):
    proc = AsyncInteractive(["cat"], 4096)
    leaks.track_group(proc.pid)
    with pytest.raises(ValueError, match="timeout_seconds"):
        await proc.write(b"x", TOO_BIG_FOR_A_FLOAT)
    with pytest.raises(ValueError, match="timeout_seconds"):
        await proc.read_line(TOO_BIG_FOR_A_FLOAT)
    with pytest.raises(ValueError, match="nice_timeout_seconds"):
        await proc.close(TOO_BIG_FOR_A_FLOAT)
    assert await proc.write(b"x\n", HUGE) and await proc.read_line(HUGE) == b"x"
    assert await proc.close(5) == 0


def test_largest_size_accepted():
    import sys

    # sys.maxsize is the bound: accepted (and capped by what the child writes).
    r = run(["echo", "hi"], max_output_size=sys.maxsize)
    assert r.stdout == "hi\n"
    with pytest.raises(ValueError, match="max_output_size"):
        run(["true"], max_output_size=sys.maxsize + 1)
