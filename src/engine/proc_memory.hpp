// Measuring the memory of runs for the watchdog: the summed peak RSS
// (VmHWM, else VmRSS, from /proc/PID/status) of every process a run
// contains, found through its containment.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

struct MemorySample {
  /// Summed peak RSS in KiB of the run's processes (its init not counted:
  /// it shares the host's memory).
  std::uint64_t kb = 0;
  /// Nonzero (an errno) when the run could not be measured, for example with
  /// no fd left to open /proc: the watchdog then fails closed.
  int error = 0;
};

/// One pass for every run: `out[i]` answers `runs[i]`. Processes that vanish
/// meanwhile are skipped. A scan of all of /proc happens only when a run is
/// contained by its process group; other runs are found from their init's
/// process tree or their cgroup's member list.
std::vector<MemorySample> sample_members(std::span<const Members> runs);

}  // namespace bounded_subprocess::detail
