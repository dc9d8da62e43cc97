// The sections of bs_bench. Each prints its own `name: value` figures and
// records its goals; a section whose entry point is not built prints why it is
// skipped.
#pragma once

namespace bsbench {

/// `run` of `true` against bare posix_spawn + drain + waitpid, and against
/// the containment's own kernel work done bare (BareContained).
void section_run_true();
/// run of `true` vs the floor with every CPU busy (busy loops of its own).
void section_run_loaded();
/// `run` of `true` with 4,000 idle processes on the machine, against none.
void section_crowd();
/// `bs_bench --crowd-keeper N`, the idle processes' parent for section_crowd:
/// forks N that pause, prints how many, and at EOF on stdin kills and reaps
/// them.
int crowd_keeper(int n);
/// Draining 256 MiB keeping 1 KiB (head and tail) against `head | cat`.
void section_drain();
/// 64 MiB of lines through run_stream_lines and a LineStream, against `run`.
void section_stream();
/// How late after a 0.2 s deadline `run` of `sleep 10` returns.
void section_timeout();
/// 1,000 concurrent `sleep 1` on one io_context against a bare epoll loop,
/// with and without the containment's own kernel work.
void section_async_many();
/// The parent's CPU time for 200 concurrent runs with a 50 ms watchdog.
void section_watchdog();
/// Interactive round trips through `cat`, sync and async, against bare pipes.
void section_interactive();
/// run of `true` in a container against bare `podman run`, and timeout-to-gone.
void section_podman();
/// `bounded-run batch`: 2,000 `true` against xargs -P 2, 1,000 `sleep 1` at
/// --parallel 1000 against a bare loop, peak RSS over 10,000 and 100,000 jobs.
void section_batch();
/// Fork storms as nobody through bounded-run under subreaper, pid_namespace
/// and cgroup: the worst time of 10 for the run to end, against 2 x the
/// deadline + 1 s.
void section_storm();
/// `bounded-run -- true` as a whole process (default containment and
/// process_group) against bs_spawn_wrapper, quiet and with every CPU busy.
void section_cli();
/// A fully isolated run of `true` against the uncontained floor; bounded-run
/// isolated against bubblewrap and a plain spawn; podman --network=none beside.
void section_isolation();

}  // namespace bsbench
