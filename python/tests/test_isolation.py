"""Isolation keywords of the host faces: each one reaches the run (checked
against the same call without it), bad values raise before anything starts,
and the limits hit come back in Result."""

import asyncio
import os
import socket
import tempfile

import pytest

from bounded_subprocess import run
from bounded_subprocess.bounded_subprocess_async import run as async_run
from bounded_subprocess.bounded_subprocess_async import run_stream_lines
from bounded_subprocess.interactive import Interactive
from bounded_subprocess.interactive_async import Interactive as AsyncInteractive

CONNECT = (
    "import socket,sys; s=socket.socket(); "
    "sys.exit(0 if s.connect_ex(('127.0.0.1', int(sys.argv[1]))) == 0 else 1)"
)


@pytest.fixture(scope="module", autouse=True)
def warm_network_pool():
    """As root, runs with network="none" share a pool of empty network
    namespaces that the process keeps (like the event loop's fds): make it
    before the per-test fd check takes its snapshot."""
    for _ in range(2):
        assert run(["true"], timeout_seconds=30, network="none").exit_code == 0


@pytest.fixture
def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield str(s.getsockname()[1])
    s.close()


def test_network_none_every_face(listener):
    argv = ["python3", "-c", CONNECT, listener]
    assert run(argv, timeout_seconds=30).exit_code == 0  # the control
    assert run(argv, timeout_seconds=30, network="none").exit_code == 1
    assert asyncio.run(async_run(argv, timeout_seconds=30, network="none")).exit_code == 1
    assert run(argv, timeout_seconds=30, network="host").exit_code == 0

    show = ["sh", "-c", f"python3 -c \"{CONNECT}\" {listener}; echo $?"]

    async def lines():
        return [line async for line in run_stream_lines(show, timeout_seconds=30, network="none")]

    assert asyncio.run(lines()) == ["1"]
    p = Interactive(show, 4096, network="none")
    assert p.read_line(20) == b"1"
    p.close(5)

    async def interact():
        q = AsyncInteractive(show, 4096, network="none")
        line = await q.read_line(20)
        await q.close(5)
        return line

    assert asyncio.run(interact()) == b"1"


def test_read_only_scratch_and_volumes():
    with tempfile.TemporaryDirectory() as host, tempfile.TemporaryDirectory() as out:
        target = os.path.join(host, "f")
        assert run(["touch", target], timeout_seconds=30).exit_code == 0  # the control
        os.unlink(target)
        r = run(["touch", target], timeout_seconds=30, read_only=True)
        assert r.exit_code != 0 and "Read-only" in r.stderr
        assert not os.path.exists(target)
        r = run(
            ["sh", "-c", "echo hi > /tmp/a && cat /tmp/a && echo $TMPDIR && echo v > /tmp/out/v"],
            timeout_seconds=30,
            read_only=True,
            scratch_mb=4,
            volumes=[f"{out}:/tmp/out", f"{host}:/tmp/in:ro"],
        )
        assert r.stdout == "hi\n/tmp\n", r
        assert open(os.path.join(out, "v")).read() == "v\n"
        r = run(["touch", "/tmp/in/x"], timeout_seconds=30, scratch_mb=4, volumes=[f"{host}:/tmp/in:ro"])
        assert r.exit_code != 0


def test_limits_hit_reported():
    r = run(["sh", "-c", "head -c 8M /dev/zero > /tmp/f; echo $?"], timeout_seconds=30, scratch_mb=2)
    assert "scratch" in r.limits_hit, r
    r = run(["sh", "-c", "head -c 4M /dev/zero > /tmp/f"], timeout_seconds=30, scratch_mb=16,
            file_size_limit_mb=1)
    assert "file_size" in r.limits_hit and r.term_signal != 0 or r.exit_code != 0, r
    r = run(["true"], timeout_seconds=30, read_only=True)
    assert r.limits_hit == frozenset() and r.memory_enforcer == "none"
    r = run(["true"], timeout_seconds=30, read_only=True, memory_limit_mb=100)
    assert r.memory_enforcer in ("kernel", "watchdog")


@pytest.mark.parametrize("size, hit", [("8M", frozenset({"scratch"})), ("1M", frozenset())])
def test_interactive_limits_hit(size, hit):
    argv = ["sh", "-c", f"head -c {size} /dev/zero > /tmp/f; echo done"]
    p = Interactive(argv, 4096, scratch_mb=2)
    assert p.limits_hit is None
    assert p.read_line(20) == b"done"
    p.close(5)
    assert p.limits_hit == hit

    async def interact():
        q = AsyncInteractive(argv, 4096, scratch_mb=2)
        assert q.limits_hit is None
        assert await q.read_line(20) == b"done"
        await q.close(5)
        return q.limits_hit

    assert asyncio.run(interact()) == hit


def test_nested_forks_stop_at_pids_limit():
    r = run(["sh", "-c", "for i in $(seq 40); do sleep 5 & done; wait"], timeout_seconds=2, pids_limit=8)
    assert "fork" in r.stderr.lower() or "resource" in r.stderr.lower() or r.limits_hit, r


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(network="bogus"), ValueError),
        (dict(scratch_mb=0), ValueError),
        (dict(pids_limit=-1), ValueError),
        (dict(cpu_limit=0), ValueError),
        (dict(volumes=["nocolon"]), ValueError),
        (dict(volumes="a:b"), TypeError),
        (dict(volumes=["/does/not/exist:/mnt"]), ValueError),
        (dict(file_size_limit_mb=1 << 50), ValueError),
    ],
)
def test_bad_values_raise(kwargs, error):
    with pytest.raises(error):
        run(["true"], timeout_seconds=30, **kwargs)
