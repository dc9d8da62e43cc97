#!/usr/bin/env python3
"""The Python package's figures, against the standard library measured in the
same run (issue 11). Prints `name: value` lines like bs_bench.

  python: run(true)                    run(["true"]) vs subprocess.run(["true"])
  python: 1000 concurrent sleep 1      asyncio.gather of async run vs a bare loop
                                       that starts all with subprocess.Popen, then
                                       waits for each; the same capturing stdout
                                       and stderr as a run does (and, for
                                       reference, asyncio.create_subprocess_exec)
  python: Interactive round trip       write + read_line through cat, sync and
                                       async, vs a bare blocking write/readline
                                       ping-pong with subprocess.Popen; with cat
                                       on the caller's CPU, then on another

Every figure is a median of interleaved rounds (A B A B ...), so a busy machine
slows both sides alike. Usage: python_bench.py [--quick] [run|interactive|
concurrent...] (all by default; the package must be importable: bench/run.sh
sets PYTHONPATH to its build).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Set

import bounded_subprocess
from bounded_subprocess import run
from bounded_subprocess.bounded_subprocess_async import run as async_run
from bounded_subprocess.interactive import Interactive
from bounded_subprocess.interactive_async import Interactive as AsyncInteractive

QUICK = "--quick" in sys.argv
SECTIONS = [a for a in sys.argv[1:] if not a.startswith("-")] or ["run", "interactive", "concurrent"]


def out(name: str, value: str) -> None:
    print(f"python: {name}: {value}", flush=True)


def interleave(rounds: int, cases: Dict[str, Callable[[], float]]) -> Dict[str, List[float]]:
    """Runs each case once per round, in turn; returns each case's figures."""
    figures: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            figures[name].append(case())
    return figures


def per_call(f: Callable[[], object], n: int) -> Callable[[], float]:
    def case() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        return (time.perf_counter() - t0) / n

    return case


def bench_run_true() -> None:
    n, rounds = (50, 5) if QUICK else (200, 15)
    for _ in range(20):  # warm up both (page cache, the module's first use)
        run(["true"])
        subprocess.run(["true"])
    containment = run(["true"]).containment
    figures = interleave(rounds, {
        "ours": per_call(lambda: run(["true"]), n),
        "ours, process_group": per_call(lambda: run(["true"], containment="process_group"), n),
        "subprocess.run": per_call(lambda: subprocess.run(["true"]), n),
        "subprocess.run, capture_output": per_call(
            lambda: subprocess.run(["true"], capture_output=True), n),
    })
    ours = statistics.median(figures["ours"])
    pg = statistics.median(figures["ours, process_group"])
    base = statistics.median(figures["subprocess.run"])
    cap = statistics.median(figures["subprocess.run, capture_output"])
    # run() reads both pipes, as subprocess.run does with capture_output:
    # that is the floor doing the same work.
    out("run(true)", f"{ours * 1e3:.3f} ms (containment {containment}); subprocess.run(true, "
        f"capture_output=True) {cap * 1e3:.3f} ms; ratio {ours / cap:.2f} (goal <= 1.10); without "
        f"capture_output {base * 1e3:.3f} ms")
    out("run(true), process_group", f"{pg * 1e3:.3f} ms; ratio {pg / cap:.2f} to subprocess.run(true, "
        f"capture_output=True)")


def bench_concurrent_sleep() -> None:
    count, rounds = (200, 2) if QUICK else (1000, 5)

    def ours(containment: Optional[str] = None) -> float:
        async def main() -> None:
            results = await asyncio.gather(
                *(async_run(["sleep", "1"], timeout_seconds=60, containment=containment)
                  for _ in range(count)))
            assert all(r.exit_code == 0 for r in results)

        t0 = time.perf_counter()
        asyncio.run(main())
        return time.perf_counter() - t0

    def bare_popen() -> float:
        t0 = time.perf_counter()
        procs = [subprocess.Popen(["sleep", "1"]) for _ in range(count)]
        for p in procs:
            p.wait()
        return time.perf_counter() - t0

    def bare_popen_capturing() -> float:
        # The same work as a run: stdout and stderr captured (read to their
        # end once the program has exited), not only waited for.
        t0 = time.perf_counter()
        procs = [subprocess.Popen(["sleep", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(count)]
        for p in procs:
            p.wait()
            assert p.stdout is not None and p.stderr is not None
            p.stdout.read()
            p.stderr.read()
            p.stdout.close()
            p.stderr.close()
        return time.perf_counter() - t0

    def asyncio_exec() -> float:
        async def main() -> None:
            async def one() -> None:
                p = await asyncio.create_subprocess_exec("sleep", "1")
                await p.wait()

            await asyncio.gather(*(one() for _ in range(count)))

        t0 = time.perf_counter()
        asyncio.run(main())
        return time.perf_counter() - t0

    figures = interleave(rounds, {
        "ours": ours,
        "ours, process_group": lambda: ours("process_group"),
        "popen": bare_popen,
        "popen, capturing": bare_popen_capturing,
        "asyncio": asyncio_exec,
    })
    o, pg, b, c, a = (statistics.median(figures[k])
                      for k in ("ours", "ours, process_group", "popen", "popen, capturing", "asyncio"))
    out(f"{count} concurrent sleep 1",
        f"{o:.2f} s; bare Popen-all-then-wait {b:.2f} s; ratio {o / b:.2f} (goal <= 1.10); "
        f"the same capturing stdout and stderr {c:.2f} s; ratio {o / c:.2f}; "
        f"asyncio.create_subprocess_exec {a:.2f} s")
    out(f"{count} concurrent sleep 1, process_group", f"{pg:.2f} s; ratio {pg / b:.2f}; capturing {pg / c:.2f}")


def pin_threads(cpus: Set[int]) -> None:
    """Every thread of this process (the package's event-loop thread too), and
    what they spawn from now on, on these CPUs."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:
            pass


def interactive_round_trips(label: str, cat_cpu: int, host_cpu: int) -> None:
    n, rounds = (500, 5) if QUICK else (2000, 15)
    line = b"x" * 16 + b"\n"

    pin_threads({cat_cpu})
    sync_proc = Interactive(["cat"], 4096)
    bare = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert bare.stdin is not None and bare.stdout is not None
    stdin, stdout = bare.stdin, bare.stdout
    loop = asyncio.new_event_loop()
    async_proc = AsyncInteractive(["cat"], 4096)
    pin_threads({host_cpu})

    def ours_sync() -> None:
        sync_proc.write(line, 5)
        assert sync_proc.read_line(5) == line[:-1]

    def bare_pingpong() -> None:
        stdin.write(line)
        stdin.flush()
        assert stdout.readline() == line

    def ours_async() -> float:
        async def main() -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                await async_proc.write(line, 5)
                assert await async_proc.read_line(5) == line[:-1]
            return (time.perf_counter() - t0) / n

        return loop.run_until_complete(main())

    for _ in range(200):
        ours_sync()
        bare_pingpong()
    figures = interleave(rounds, {
        "sync": per_call(ours_sync, n),
        "bare": per_call(bare_pingpong, n),
        "async": ours_async,
    })
    s, b, a = (statistics.median(figures[k]) for k in ("sync", "bare", "async"))
    out(f"Interactive round trip{label}, sync", f"{s * 1e6:.1f} us; bare write/readline {b * 1e6:.1f} us; "
        f"ratio {s / b:.2f} (goal <= 1.5)")
    out(f"Interactive round trip{label}, async", f"{a * 1e6:.1f} us; bare write/readline {b * 1e6:.1f} us; "
        f"ratio {a / b:.2f} (goal <= 1.5)")
    assert sync_proc.close(5) == 0
    assert loop.run_until_complete(async_proc.close(5)) == 0
    loop.close()
    stdin.close()
    bare.wait()


def bench_interactive() -> None:
    # A round trip costs what the scheduler makes it: with cat on the same CPU
    # a write hands the CPU over directly (microseconds); on another CPU each
    # direction wakes it with an interrupt (tens of microseconds on a VM). Left
    # to the scheduler, the sides of one run land either way, so each placement
    # is measured on its own, every side placed alike.
    before = os.sched_getaffinity(0)
    cpus = sorted(before)
    try:
        interactive_round_trips("", cpus[0], cpus[0])
        if len(cpus) > 1:
            interactive_round_trips(" (cat on another CPU)", cpus[1], cpus[0])
    finally:
        pin_threads(before)


def main() -> None:
    out("package", f"{bounded_subprocess.__version__} from {os.path.dirname(bounded_subprocess.__file__)}")
    t0 = time.monotonic()
    sections = {"run": bench_run_true, "interactive": bench_interactive,
                "concurrent": bench_concurrent_sleep}
    for name in SECTIONS:
        if name not in sections:
            sys.exit(f"python_bench.py: unknown section {name!r} (one of {', '.join(sections)})")
        sections[name]()
    out("wall", f"{time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
