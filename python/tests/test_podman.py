"""podman_run and podman_run_stream_lines against real podman.

They use the test image the podman tests build (CTest fixture
podman_test_image): a busybox-static root with bs_misbehave. They skip, with
the reason, only when podman cannot run containers here at all.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from contextlib import aclosing
from pathlib import Path

import pytest

from bounded_subprocess.bounded_subprocess_async import podman_run, podman_run_stream_lines

pytestmark = pytest.mark.podman

IMAGE = os.environ.get("BS_PODMAN_IMAGE", "localhost/bounded-subprocess-test")
PROBE = os.environ.get("BS_PODMAN_PROBE_FILE", "")


def _skip_reason() -> str:
    if shutil.which("podman") is None:
        return "podman not found in PATH"
    if PROBE:
        try:
            text = Path(PROBE).read_text().strip()
        except OSError:
            return f"no probe file at {PROBE} (the podman_test_image fixture did not run)"
        return "" if text == "ok" else text
    r = subprocess.run(["podman", "run", "--rm", IMAGE + ":latest", "true"],
                       capture_output=True, timeout=120)
    return "" if r.returncode == 0 else "podman cannot run the test image: " + r.stderr.decode()


@pytest.fixture(scope="module")
def podman_ok():
    reason = _skip_reason()
    if reason:
        print(f"podman tests skipped: {reason}")
        pytest.skip(reason)


@pytest.fixture
def label(podman_ok, monkeypatch, tmp_path):
    """A label for this test's containers; afterwards none may be left, and
    the private cidfile folders (in $TMPDIR) must be gone."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    value = f"bs-py-test={uuid.uuid4().hex}"
    yield value
    deadline = time.monotonic() + 20
    while True:
        out = subprocess.run(
            ["podman", "ps", "-a", "-q", "--filter", f"label={value}"],
            capture_output=True, text=True, timeout=60,
        ).stdout.strip()
        if not out or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert out == "", f"containers left: {out}"
    assert list(tmp.iterdir()) == [], f"temporary files left: {list(tmp.iterdir())}"


def opts(label, **kw):
    return dict(image=IMAGE + ":latest", podman_args=["--label", label], **kw)


async def test_original_podman_run_example(label):
    # The original Python library's example with the test image instead of alpine:latest (and a
    # longer timeout: podman starts slowly on a loaded machine).
    result = await podman_run(
        ["cat"],
        timeout_seconds=60,
        max_output_size=1024,
        stdin_data="hello\n",
        **opts(label),
    )
    assert result.stdout == "hello\n" and result.exit_code == 0 and not result.timeout


async def test_original_stream_example_breaks_after_first_line(label, capsys):
    async with aclosing(podman_run_stream_lines(
        ["sh", "-c", "printf '%s\n' one two three"],
        timeout_seconds=60,
        max_line_size=1024,
        **opts(label),
    )) as lines:
        async for line in lines:
            print(line)
            break
    assert capsys.readouterr().out == "one\n"


async def test_stream_reads_all_lines(label):
    async with aclosing(podman_run_stream_lines(
        ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"],
        timeout_seconds=60, max_line_size=1024, **opts(label),
    )) as lines:
        got = [line async for line in lines]
    assert got == [f"line{i}" for i in range(1, 6)]


async def test_timeout_removes_container(label):
    t0 = time.monotonic()
    r = await podman_run(["sleep", "1000"], timeout_seconds=3, max_output_size=100,
                         **opts(label))
    assert r.timeout and r.exit_code == -1
    assert time.monotonic() - t0 < 40


async def test_env_cwd_volume_and_output_bound(label, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("from the host\n")
    r = await podman_run(
        ["sh", "-c", 'echo "$GREETING"; pwd; cat f.txt; bs_misbehave flood-out 100000'],
        timeout_seconds=60, max_output_size=60,
        env={"GREETING": "hi"}, cwd="/data", volumes=[f"{data}:/data:ro"], **opts(label),
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("hi\n/data\nfrom the host\n")
    assert r.stdout_truncated and len(r.stdout_bytes) == 60


async def test_entrypoint(label):
    o = opts(label)
    o["image"] = IMAGE + ":entrypoint"
    r = await podman_run(["x"], timeout_seconds=60, max_output_size=100, **o)
    assert r.stdout == "entrypoint-says x\n"
    r = await podman_run(["echo", "x"], timeout_seconds=60, max_output_size=100,
                         entrypoint="", **o)
    assert r.stdout == "x\n"


async def test_missing_image_is_reported(label):
    r = await podman_run(["true"], timeout_seconds=60, max_output_size=2048,
                         image="localhost/bs-no-such-image:none", podman_args=["--label", label])
    assert r.exit_code != 0 and r.stderr != ""


async def test_cancellation_removes_container(label):
    task = asyncio.create_task(podman_run(["sleep", "1000"], timeout_seconds=120,
                                          max_output_size=100, **opts(label)))
    await asyncio.sleep(3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_missing_podman_binary(podman_ok, tmp_path):
    with pytest.raises(FileNotFoundError):
        await podman_run(["true"], image=IMAGE, timeout_seconds=5, max_output_size=10,
                         podman_path=str(tmp_path / "no-podman"))
    with pytest.raises(ValueError):
        await podman_run(["true"], image="", timeout_seconds=5, max_output_size=10)
