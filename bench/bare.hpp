// The floors: the same work as the library's faces, done with bare system
// calls and nothing else (posix_spawnp, pipes, poll/epoll, waitpid). Every
// figure of bs_bench is compared with one of these, measured in the same run.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace bsbench {

/// A child started by `bare_spawn`. The fds are -1 when not asked for.
struct BareChild {
  pid_t pid = -1;
  int pidfd = -1;
  int in = -1;   ///< write end of the child's stdin
  int out = -1;  ///< read end of the child's stdout
  int err = -1;  ///< read end of the child's stderr
};

struct BareSpawn {
  bool stdin_pipe = false;   ///< else /dev/null
  bool out_pipes = true;     ///< stdout and stderr to pipes, else /dev/null
  bool pidfd = false;        ///< open a pidfd for the child
  bool nonblocking = false;  ///< parent's pipe ends O_NONBLOCK
  /// New session (POSIX_SPAWN_SETSID), as the library does. This matters
  /// for fairness, not just form: with autogroup scheduling
  /// (/proc/sys/kernel/sched_autogroup_enabled) each new session gets its
  /// own CPU share, so on a loaded machine children in new sessions start
  /// faster than children left in the bench's session.
  bool setsid = true;
};

/// posix_spawnp(argv) with the stdio asked for; the parent's pipe ends are
/// O_CLOEXEC. Throws std::system_error when the program cannot start.
BareChild bare_spawn(const std::vector<std::string>& argv, const BareSpawn& how);

/// Closes every fd of `c` that is open (not the pid).
void bare_close(BareChild& c);

/// Floor of `run`: spawn with stdout/stderr pipes, read both until EOF with
/// poll, waitpid. Returns the raw wait status.
int bare_run_drain(const std::vector<std::string>& argv);

/// Floor of the timeout: spawn (pipes + pidfd), ppoll on the pidfd and the
/// pipes until `timeout_s` after the call, SIGKILL, waitpid. Returns how many
/// milliseconds after the deadline the call returned.
double bare_timeout_late_ms(const std::vector<std::string>& argv, double timeout_s);

/// Floor of many concurrent runs: spawn `n` children (pipes + pidfd), then
/// one epoll loop drains the pipes and reaps each child when its pidfd fires.
/// Returns the wall time in milliseconds from the first spawn to the last reap.
double bare_many_ms(const std::vector<std::string>& argv, int n);

/// Floor of Interactive: `cat` with blocking pipes on stdin and stdout.
class BareCat {
 public:
  BareCat();
  ~BareCat();
  BareCat(const BareCat&) = delete;
  BareCat& operator=(const BareCat&) = delete;
  /// Writes `line` (which ends in '\n') and reads until the echo's '\n'.
  /// Returns false if the echo did not come back intact.
  bool round_trip(const std::string& line);

 private:
  BareChild child_;
  std::string pending_;
};

}  // namespace bsbench
