// Internal: `run` with a hook at the spawn, for the Python package (which
// records each child so that interpreter exit can kill a run that blocks
// another thread). Not part of the API; include bounded_subprocess/run.hpp.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

/// `run`, calling `on_spawn(direct_pid, containment)` on the calling thread
/// once the child is started and before any wait: `direct_pid` is our own
/// child (the program, or its init when contained), not reaped before
/// `run_observed` returns. The Python package records the child there, so
/// that interpreter exit can kill the run while it blocks another thread.
/// `on_spawn` must not throw. On the host only (std::invalid_argument for a
/// container).
Result run_observed(const std::vector<std::string>& argv, const Options& options,
                    const std::function<void(pid_t direct_pid, Containment containment)>& on_spawn);

}  // namespace bounded_subprocess::detail
