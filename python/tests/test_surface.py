"""The package's public surface is the original's: every name, module path,
signature and default, with our extras after the original's parameters,
keyword-only and with defaults, so that no call written for the original
changes meaning.

The original cannot be downloaded here, so its surface is written down below
from what is known of it: the signatures of the API reference in the original Python library's README
(copied from it, annotations dropped), its examples, and issue 11's list of
the names the original exports.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import logging
import re
import types
from typing import Any, Callable, Dict

import pytest

import bounded_subprocess

P = inspect.Parameter

# --- the original's signatures ----------------------------------------------
# From the API reference in the original Python library's README, verbatim but for the annotations.


def original_run(args, timeout_seconds=15, max_output_size=2048, tail=False, env=None,
             stdin_data=None, stdin_write_timeout=None, cwd=None): ...


async def original_async_run(args, timeout_seconds=15, max_output_size=2048, tail=False, env=None,
                         stdin_data=None, stdin_write_timeout=None, memory_limit_mb=None,
                         memory_watchdog_interval_seconds=1.0, cwd=None): ...


async def original_podman_run(args, *, image, timeout_seconds, max_output_size, tail=False,
                          env=None, stdin_data=None, stdin_write_timeout=None, volumes=[],
                          cwd=None, memory_limit_mb=None, entrypoint=None): ...


async def original_podman_run_stream_lines(args, *, image, timeout_seconds, max_line_size, env=None,
                                       stdin_data=None, stdin_write_timeout=None, volumes=[],
                                       cwd=None, memory_limit_mb=None, entrypoint=None,
                                       stderr_max_output_size=2048):
    yield  # an async generator function ("async ... -> AsyncIterator[str]")


# Interactive (sync and async): the README gives the parameter names of the
# methods in its text and examples (read_buffer_size, timeout_seconds,
# nice_timeout_seconds) and passes every one of them in every example, with
# no default shown.
class OriginalInteractive:
    def __init__(self, args, read_buffer_size): ...
    def write(self, stdin_data, timeout_seconds): ...
    def read_line(self, timeout_seconds): ...
    def close(self, nice_timeout_seconds): ...


class OriginalAsyncInteractive:
    def __init__(self, args, read_buffer_size): ...
    async def write(self, stdin_data, timeout_seconds): ...
    async def read_line(self, timeout_seconds): ...
    async def close(self, nice_timeout_seconds): ...


# util's helpers: issue 11 names them; the README documents no signature, so
# these are written from what the helpers mean (and pinned here).
def original_set_nonblocking(reader): ...
def original_can_read(fd): ...
def original_can_write(fd): ...
def original_write_loop_sync(write_chunk, data, deadline, *, sleep_interval): ...
def original_write_nonblocking_sync(*, fd, data, timeout_seconds): ...
async def original_write_nonblocking_async(*, fd, data, timeout_seconds): ...
def original_read_to_eof_sync(files, *, timeout_seconds, max_len): ...
async def original_read_to_eof_async(files, *, timeout_seconds, max_len): ...


UTIL_HELPERS = {
    "set_nonblocking": original_set_nonblocking,
    "can_read": original_can_read,
    "can_write": original_can_write,
    "write_loop_sync": original_write_loop_sync,
    "write_nonblocking_sync": original_write_nonblocking_sync,
    "write_nonblocking_async": original_write_nonblocking_async,
    "read_to_eof_sync": original_read_to_eof_sync,
    "read_to_eof_async": original_read_to_eof_async,
}

# Every public callable of every module: the original's, by module.
ORIGINAL: Dict[str, Dict[str, Callable[..., Any]]] = {
    "bounded_subprocess": {"run": original_run},
    "bounded_subprocess.bounded_subprocess": {"run": original_run},
    "bounded_subprocess.bounded_subprocess_async": {
        "run": original_async_run,
        "podman_run": original_podman_run,
        "podman_run_stream_lines": original_podman_run_stream_lines,
    },
    "bounded_subprocess.interactive": {"Interactive": OriginalInteractive},
    "bounded_subprocess.interactive_async": {"Interactive": OriginalAsyncInteractive},
    "bounded_subprocess.util": dict(UTIL_HELPERS),
}
# Ours only (not in the original): allowed, listed so that a new public
# callable cannot appear without a decision.
EXTRAS = {
    "bounded_subprocess.bounded_subprocess_async": {"run_stream_lines"},
}
ORIGINAL_RESULT_FIELDS = ["timeout", "exit_code", "stdout", "stderr"]


def assert_extends(ours: Callable[..., Any], original: Callable[..., Any], where: str) -> None:
    """ours takes original's parameters first (same names, kinds and
    defaults, in the same order), then only keyword-only ones with defaults;
    and it is the same kind of function (plain, coroutine, async generator)."""
    for check in (inspect.iscoroutinefunction, inspect.isasyncgenfunction):
        assert check(ours) == check(original), f"{where}: {check.__name__} differs"
    theirs = list(inspect.signature(original).parameters.values())
    mine = list(inspect.signature(ours).parameters.values())
    assert len(mine) >= len(theirs), f"{where}: fewer parameters than the original"
    for a, b in zip(theirs, mine):
        assert (b.name, b.kind) == (a.name, a.kind), f"{where}: {b} where the original has {a}"
        assert b.default == a.default and type(b.default) is type(a.default), (
            f"{where}: {b.name} defaults to {b.default!r}, the original to {a.default!r}")
    for extra in mine[len(theirs):]:
        assert extra.kind is P.KEYWORD_ONLY, f"{where}: extra parameter {extra} is not keyword-only"
        assert extra.default is not P.empty, f"{where}: extra parameter {extra.name} has no default"


def public_callables(module: types.ModuleType) -> Dict[str, Any]:
    """The module's public functions and classes, its own and re-exported."""
    return {name: obj for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", "").startswith("bounded_subprocess")}


@pytest.mark.parametrize("module_name", sorted(ORIGINAL))
def test_module_callables_extend_the_original(module_name):
    module = importlib.import_module(module_name)
    originals = ORIGINAL[module_name]
    for name, original in originals.items():
        ours = getattr(module, name, None)
        assert ours is not None, f"{module_name}.{name} is missing"
        if inspect.isclass(original):
            for method in ("__init__", "write", "read_line", "close"):
                assert_extends(getattr(ours, method), getattr(original, method),
                               f"{module_name}.{name}.{method}")
        else:
            assert_extends(ours, original, f"{module_name}.{name}")
    # Nothing public beyond the original's, util's re-exported names, and
    # the extras listed above.
    allowed = set(originals) | set(UTIL_HELPERS) | {"Result"} | EXTRAS.get(module_name, set())
    unknown = set(public_callables(module)) - allowed
    assert not unknown, f"{module_name}: public callables not in the list: {sorted(unknown)}"


def test_util_helpers_importable_from_every_face():
    # util is where the original defines them; our entry point modules re-export
    # the ones that fit them, and util re-exports none of ours.
    util = importlib.import_module("bounded_subprocess.util")
    for name in UTIL_HELPERS:
        assert callable(getattr(util, name))
    for name in ("MAX_BYTES_PER_READ", "SLEEP_BETWEEN_READS", "SLEEP_BETWEEN_WRITES"):
        assert isinstance(getattr(util, name), (int, float)) and getattr(util, name) > 0


def test_result_fields_in_the_original_order_then_extras_with_defaults():
    from bounded_subprocess.util import Result

    fields = dataclasses.fields(Result)
    assert [f.name for f in fields[:4]] == ORIGINAL_RESULT_FIELDS
    for f in fields[:4]:
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    for f in fields[4:]:
        assert f.default is not dataclasses.MISSING, f"{f.name} has no default"
    r = Result(True, -1, "out", "err")  # the original's positional order
    assert (r.timeout, r.exit_code, r.stdout, r.stderr) == (True, -1, "out", "err")
    assert Result.__match_args__[:4] == tuple(ORIGINAL_RESULT_FIELDS)
    assert Result(timeout=False, exit_code=0, stdout="", stderr="").reason == "exited"


def test_result_equality_ignores_only_run_to_run_fields():
    from bounded_subprocess.util import Result

    a = Result(False, 0, "x", "", elapsed_seconds=0.1, user_cpu_seconds=0.01,
               system_cpu_seconds=0.02, max_rss_kb=1000)
    b = Result(False, 0, "x", "", elapsed_seconds=0.2, user_cpu_seconds=0.03,
               system_cpu_seconds=0.04, max_rss_kb=2000)
    assert a == b
    assert a != Result(False, 0, "y", "")
    assert a != Result(True, 0, "x", "")
    assert a != Result(False, 0, "x", "", stdout_truncated=True)
    assert a != Result(False, 0, "x", "", reason="signaled")


def test_two_runs_of_a_deterministic_program_compare_equal(misbehave):
    from bounded_subprocess import run

    args = [misbehave, "out-err", "to out", "to err"]
    assert run(args) == run(args)


async def test_two_async_runs_compare_equal(misbehave):
    from bounded_subprocess.bounded_subprocess_async import run

    args = [misbehave, "out-err", "to out", "to err"]
    assert await run(args) == await run(args)


def test_package_exports():
    assert {"run", "Result", "SLEEP_BETWEEN_READS"} <= set(bounded_subprocess.__all__)
    namespace: Dict[str, Any] = {}
    exec("from bounded_subprocess import *", namespace)
    assert namespace["SLEEP_BETWEEN_READS"] == bounded_subprocess.util.SLEEP_BETWEEN_READS
    assert namespace["run"] is bounded_subprocess.bounded_subprocess.run
    assert namespace["Result"] is bounded_subprocess.util.Result
    for module_name in ORIGINAL:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"


def test_version():
    version = bounded_subprocess.__version__
    assert isinstance(version, str) and re.fullmatch(r"\d+\.\d+\.\d+", version)
    try:
        installed = importlib.metadata.version("bounded_subprocess")
    except importlib.metadata.PackageNotFoundError:
        installed = None  # the build folder, not an installed package
    if installed is not None:
        assert installed == version


def test_async_module_logger(caplog):
    from bounded_subprocess import bounded_subprocess_async as m

    assert isinstance(m.logger, logging.Logger)
    assert m.logger.name == "bounded_subprocess.bounded_subprocess_async"


async def test_logger_says_when_a_run_is_cancelled(caplog, misbehave):
    import asyncio

    from bounded_subprocess.bounded_subprocess_async import logger, run

    caplog.set_level(logging.DEBUG, logger=logger.name)
    task = asyncio.ensure_future(run([misbehave, "sleep-forever"], timeout_seconds=60))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert any("cancelled" in r.getMessage() and r.name == logger.name for r in caplog.records)
