// The synchronous entry point: run a program to completion, bounded.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess {

/// Runs `argv` (argv[0] is looked up in PATH, the child's PATH when `env`
/// sets one) with stdin from `options.stdin_data` (or /dev/null), stdout and
/// stderr captured with bounds (`max_output_size` bytes each, the first or,
/// with `tail`, the last), and waits until the direct child exits, the
/// deadline passes or the memory watchdog fires. When the direct child
/// exits, the bytes already in the pipes are read, then everything the run
/// contains gets SIGKILL, so descendants never outlive the run.
///
/// With `options.container`: the same bounds around `podman run --rm -i
/// --cidfile FILE ... IMAGE ARGV...` (see `Container`). The result is the
/// podman client's: `exit_code` is the container's exit status as podman
/// reports it (a container killed by signal N shows 128+N), 125 when podman
/// itself failed (an image that does not exist, say; podman's message is in
/// `err`), -1 on timeout. Whatever ended the call, the container is then
/// force-removed (bounded by `cleanup_timeout`), the client reaped and the
/// cidfile deleted; `elapsed` covers that cleanup. A cleanup that failed
/// (the container may be left behind) is in `cleanup_error`, with the rest
/// of the Result, as `async_run` delivers it.
///
/// Options: see the table in options.hpp. Rejected here: `max_line_size`;
/// with a container, `memory_limit_mb` and `memory_watchdog_interval`.
///
/// Errors:
///  - `std::invalid_argument`: a field this entry point does not use (the message
///    names it and the entry point), empty argv, a NUL inside an argument, an
///    environment name that is empty or holds '=' or NUL, a timeout or an
///    interval that is not positive, a memory limit of 0, an empty image or
///    volume. Nothing is spawned.
///  - `std::system_error` (a `SpawnError`): the program (or podman) cannot
///    be started (not found, not executable, cwd missing, out of
///    fds/processes); `code()` carries the errno and `what()` names the
///    program (or the cwd).
///  - whatever `on_interrupt` throws: the run is killed and reaped first.
///
/// Thread safety: may be called from many threads at once. The library
/// never reaps children it did not start and never changes signal
/// dispositions of the host process.
Result run(const std::vector<std::string>& argv, const Options& options = {});

}  // namespace bounded_subprocess
