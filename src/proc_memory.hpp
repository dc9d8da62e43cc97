// Reading peak RSS of process groups from /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

namespace bounded_subprocess::detail {

/// One scan of /proc: for each process group in `pgids`, the sum of peak RSS
/// (VmHWM, else VmRSS) in KiB over every live process of that group.
/// `out[i]` answers `pgids[i]`. Processes that vanish mid-scan are skipped.
/// One scan serves any number of groups.
std::vector<std::uint64_t> sample_groups_kb(std::span<const pid_t> pgids);

/// The same for one group.
std::uint64_t sample_group_kb(pid_t pgid);

}  // namespace bounded_subprocess::detail
