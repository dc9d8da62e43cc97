// The synchronous face: run a program to completion, bounded.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess {

/// Runs `argv` (argv[0] is looked up in PATH, the child's PATH when `env`
/// sets one) in a new session with stdin from `options.stdin_data` (or
/// /dev/null), stdout and stderr captured with bounds, and waits until the
/// direct child exits, the deadline passes or the memory watchdog fires.
/// When the direct child exits, the bytes already in the pipes are read, then
/// its whole process group gets SIGKILL, so descendants never outlive the run.
///
/// Errors:
///  - `std::invalid_argument`: empty argv, a NUL inside an argument, an
///    environment name that is empty or holds '=' or NUL, a timeout or an
///    interval that is not positive, a memory limit of 0.
///    Nothing is spawned.
///  - `std::system_error`: the program cannot be started (not found, not
///    executable, cwd missing, out of fds/processes); `code()` carries the
///    errno and `what()` names the program (or the cwd).
///
/// Thread safety: may be called from many threads at once. The library
/// never reaps children it did not start and never changes signal
/// dispositions of the host process.
Result run(const std::vector<std::string>& argv, const RunOptions& options = {});

}  // namespace bounded_subprocess
