"""run_stream_lines: the local twin of podman_run_stream_lines (not in the original Python library)."""

from __future__ import annotations

import time
from contextlib import aclosing

import pytest

from bounded_subprocess.bounded_subprocess_async import run_stream_lines


async def test_all_lines(misbehave, leaks):
    lines = []
    async with aclosing(run_stream_lines(["sh", "-c", "printf '%s\\n' one two three"])) as it:
        async for line in it:
            lines.append(line)
    assert lines == ["one", "two", "three"]


async def test_break_early_kills_the_group(misbehave, leaks):
    t0 = time.monotonic()
    async with aclosing(run_stream_lines([misbehave, "fork-storm", "2"], timeout_seconds=60)) as it:
        async for line in it:
            assert line.startswith("pgid")
            leaks.track_group(int(line.split()[1]))
            break
    assert time.monotonic() - t0 < 10  # not the 60 s deadline


async def test_max_line_size_keeps_newest_bytes(misbehave):
    async with aclosing(run_stream_lines([misbehave, "long-line", "100"], max_line_size=10)) as it:
        lines = [line async for line in it]
    assert lines == ["x" * 10]


async def test_timeout_ends_stream(misbehave):
    t0 = time.monotonic()
    async with aclosing(run_stream_lines([misbehave, "sleep-forever"], timeout_seconds=0.3)) as it:
        lines = [line async for line in it]
    assert lines == [] and time.monotonic() - t0 < 5


async def test_errors_at_first_iteration(tmp_path):
    # An async generator function, like the original Python library's podman_run_stream_lines:
    # calling it starts nothing; the first iteration checks and starts.
    missing = run_stream_lines([str(tmp_path / "missing")])
    with pytest.raises(FileNotFoundError):
        await missing.__anext__()
    bad = run_stream_lines(["true"], max_line_size=0)
    with pytest.raises(ValueError):
        await bad.__anext__()


async def test_nothing_starts_until_iterated(tmp_path):
    marker = tmp_path / "started"
    gen = run_stream_lines(["sh", "-c", f"touch {marker}; echo hi"])
    await gen.aclose()  # never iterated
    assert not marker.exists()
    async with aclosing(run_stream_lines(["sh", "-c", f"touch {marker}; echo hi"])) as it:
        assert [line async for line in it] == ["hi"]
    assert marker.exists()
