// The result of a bounded run: the whole story of how it ended.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "bounded_subprocess/containment.hpp"

namespace bounded_subprocess {

/// Why a run ended.
enum class EndReason {
  exited,        ///< the direct child exited by itself (`exit_code` is its status)
  signaled,      ///< a signal killed the direct child (`exit_code` is minus its number)
  timeout,       ///< the deadline passed; the group was killed (`exit_code` is -1)
  memory_limit,  ///< the memory watchdog killed the group (`exit_code` is -1)
  cancelled,     ///< the run was cancelled; everything it contains was killed (`exit_code` is -1)
  /// The memory watchdog could not measure the run (no fd left to read
  /// /proc, say) and killed it rather than let it run unwatched
  /// (`exit_code` is -1, `watchdog_error` says why).
  watchdog_failed,
};

std::string_view to_string(EndReason reason) noexcept;
std::ostream& operator<<(std::ostream& os, EndReason reason);

/// What was kept of one output stream.
struct Capture {
  /// Raw bytes kept: the first `max_output_size` bytes, or the last with `tail`.
  std::string data;
  /// True when the stream produced more bytes than were kept.
  bool truncated = false;
  /// Bytes the stream produced in all, kept or not.
  std::uint64_t total_bytes = 0;
};

/// Resource usage of the run, from wait4(2): with a process_group, of the
/// direct child and the descendants it waited for; with any other
/// containment, of every process of the run (its init reaps them all).
struct ResourceUsage {
  std::chrono::microseconds user_cpu{0};
  std::chrono::microseconds system_cpu{0};
  /// Peak resident set size, in KiB: the largest of the processes counted.
  std::uint64_t max_rss_kb = 0;
};

struct Result {
  /// The child's exit status; minus the signal number if a signal ended it
  /// (-9 for SIGKILL); -1 for a timeout, a memory kill, a cancelled run or an
  /// incomplete stdin write.
  int exit_code = -1;
  /// True only when the wall-clock deadline elapsed.
  bool timeout = false;
  /// True when the memory watchdog killed the group.
  bool memory_limit_exceeded = false;
  /// True when `stdin_data` could not be written in full.
  bool stdin_write_failed = false;
  EndReason reason = EndReason::exited;
  /// The signal that ended the direct child, 0 if it exited by itself.
  int term_signal = 0;
  /// stdout and stderr as kept (`stdout` and `stderr` are macros in C, hence
  /// the short names).
  Capture out;
  Capture err;
  /// How the run's descendants were contained.
  Containment containment = Containment::process_group;
  /// With `reason` watchdog_failed: the errno that kept the watchdog from
  /// measuring (EMFILE, say). 0 otherwise.
  int watchdog_error = 0;
  /// A run in a container (the podman entry points) whose container could not be
  /// removed afterwards: podman's message (the `podman rm` command, its exit
  /// code or timeout, its stderr). Empty otherwise. The async entry points report
  /// that failure as `errc::cleanup_failed` with this Result; the sync entry points
  /// throw std::runtime_error with this message instead.
  std::string cleanup_error;
  /// Wall time from the spawn to the end of the run.
  std::chrono::duration<double> elapsed{0};
  ResourceUsage usage;

  /// One line for logs, e.g. `exited 0 after 0.003s, stdout 6 B, stderr 0 B`.
  std::string str() const;
};

std::ostream& operator<<(std::ostream& os, const Result& result);

}  // namespace bounded_subprocess
