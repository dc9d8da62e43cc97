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
  memory_limit,  ///< the memory watchdog or the kernel's memory limit killed the run (`exit_code` is -1)
  cancelled,     ///< the run was cancelled; everything it contains was killed (`exit_code` is -1)
  /// The memory watchdog could not measure the run (no fd left to read
  /// /proc, say) and killed it rather than let it run unwatched
  /// (`exit_code` is -1, `watchdog_error` says why).
  watchdog_failed,
  /// The run's init was killed from inside the run (a subreaper's init
  /// shares the program's user, so `kill -9 $PPID` reaches it; a PID
  /// namespace's init is out of its reach unless the program is root). The
  /// host then killed every process of the run it could still find: the
  /// program itself, its descendants and its session (under subreaper,
  /// orphans of the run that left its session before the init died can
  /// escape; under pid_namespace and cgroup the kernel ends the whole
  /// namespace with its init). `exit_code` is the program's status when it
  /// could still be had (the host became its parent), -1 otherwise.
  containment_broken,
  /// The run used up its `Isolation::cpu_limit` and was killed (`exit_code`
  /// is -1).
  cpu_limit,
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

/// The isolation limits (`Options::isolation`) the run ran into, each set
/// even when the run went on (a fork refused, a write refused), so that "ran
/// out of room" is told from a wrong answer.
struct LimitsHit {
  /// The kernel's memory limit was reached (an allocation failed or the OOM
  /// killer ran inside the run).
  bool memory = false;
  /// A fork or thread was refused at the pids limit (pids.max; not known
  /// with the RLIMIT_NPROC fallback, which the kernel does not count).
  bool pids = false;
  /// The CPU limit was used up (the run was killed: reason cpu_limit).
  bool cpu = false;
  /// A process of the run was killed by SIGXFSZ (a write past
  /// file_size_limit_mb; a program that ignores SIGXFSZ gets EFBIG instead,
  /// which is not seen).
  bool file_size = false;
  /// The scratch was full (no free block or inode) when the run ended.
  bool scratch = false;
  bool any() const noexcept { return memory || pids || cpu || file_size || scratch; }
};

/// Who enforced a memory limit of the run.
enum class MemoryEnforcer {
  none,      ///< no memory limit
  watchdog,  ///< the library's watchdog (`Options::memory_limit_mb`)
  kernel,    ///< the kernel, in the run's cgroup (`Isolation::memory_limit_mb`)
};
std::string_view to_string(MemoryEnforcer enforcer) noexcept;

struct Result {
  /// The child's exit status; minus the signal number if a signal ended it
  /// (-9 for SIGKILL); -1 for a timeout, a memory kill, a cancelled run or an
  /// incomplete stdin write.
  int exit_code = -1;
  /// True only when the wall-clock deadline elapsed.
  bool timeout = false;
  /// True when the memory watchdog or the kernel's memory limit killed the
  /// run.
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
  /// code or timeout, its stderr). Empty otherwise. The sync entry points
  /// return it in their Result; `async_run` also completes with
  /// `errc::cleanup_failed`.
  std::string cleanup_error;
  /// Wall time from the spawn to the end of the run.
  std::chrono::duration<double> elapsed{0};
  ResourceUsage usage;
  /// The isolation limits the run ran into.
  LimitsHit limits_hit;
  /// Who enforced the memory limit (the kernel where `Isolation` asked for
  /// it, else the watchdog where `memory_limit_mb` was set).
  MemoryEnforcer memory_enforcer = MemoryEnforcer::none;

  /// One line for logs, e.g. `exited 0 after 0.003s, stdout 6 B, stderr 0 B`.
  std::string str() const;
};

std::ostream& operator<<(std::ostream& os, const Result& result);

}  // namespace bounded_subprocess
