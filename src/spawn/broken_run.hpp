// The end of a run whose init was killed before it could report: the host
// ends what is left of the run itself (broken_run.cpp).
#pragma once

#include <sys/types.h>

#include <string>

#include "bounded_subprocess/containment.hpp"
#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

struct BrokenRun {
  Containment containment = Containment::subreaper;
  pid_t program_pid = 0;   ///< in the host's PID namespace (0: unknown)
  int program_pidfd = -1;  ///< subreaper: the program's pidfd, from the init
  int proc_fd = -1;        ///< the host's /proc
  /// cgroup: the run's cgroup folder in `cgroup_parent_fd`.
  int cgroup_parent_fd = -1;
  std::string cgroup_name;
};

/// Kills every process of the run that can still be found and waits until
/// the program is gone. A subreaper's init shares the program's user, so
/// the program can kill it: its orphans then belong to the host's subreaper
/// (or to the machine's init), out of the run's tree. The host kills the
/// program and its descendants through the program's pidfd, then every
/// process of the program's session or group (found in /proc) and their
/// descendants, until a scan finds none alive. A PID namespace's end
/// killed its processes already (the kernel does it when its init dies);
/// a cgroup is killed again (cgroup.kill), for processes put into it from
/// outside. Returns `containment_broken` with the program's status when it
/// can be had (the host became its parent), else `status_known` false.
/// Never throws.
ExitInfo end_broken_run(const BrokenRun& run) noexcept;

}  // namespace bounded_subprocess::detail
