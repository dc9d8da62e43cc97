// The floors: the same work as the library's entry points, done with bare system
// calls and nothing else (posix_spawnp, pipes, poll/epoll, waitpid). Every
// figure of bs_bench is compared with one of these, measured in the same run.
#pragma once

#include <sys/types.h>

#include <cstddef>
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

/// Floor of a contained `run`: the kernel work that the containment itself
/// needs, and nothing else. An init cloned into a new PID and mount
/// namespace (sharing our memory, as the library's does) mounts a fresh
/// /proc, starts the program with a vfork-like clone (born into a new cgroup
/// with clone3, in a cgroup namespace, when `cgroup`), waits for it and
/// exits; we drain the pipes, reap the init and remove the cgroup. No id
/// mapping: it needs root.
class BareContained {
 public:
  /// `slots`: how many runs may be in flight at once (each has its own
  /// stacks). Throws std::runtime_error (saying why) where this machine
  /// cannot do it: not root, no cgroup v2 folder of ours when `cgroup`.
  BareContained(bool cgroup, int slots);
  ~BareContained();
  BareContained(const BareContained&) = delete;
  BareContained& operator=(const BareContained&) = delete;
  /// Starts `argv` (argv[0] an absolute path; null-terminated, alive until
  /// `finish`) in slot `slot`: stdout and stderr to pipes whose ends here
  /// are O_NONBLOCK. The child's pid and pidfd are the init's.
  BareChild start(int slot, char* const* argv);
  /// After the init has exited: reaps it, closes what `c` holds and removes
  /// the cgroup. Returns the program's raw wait status.
  int finish(int slot, BareChild& c);
  /// start, drain both pipes to EOF, finish; in slot 0.
  int run_drain(char* const* argv);

 private:
  struct Slot;
  Slot* slots_ = nullptr;
  int slot_count_ = 0;
  void* stacks_ = nullptr;  // the init's and the program's of each slot
  int cgroup_parent_ = -1;  // our cgroup v2 folder, when `cgroup`
  long runs_ = 0;
};

/// Floor of the timeout: spawn (pipes + pidfd), ppoll on the pidfd and the
/// pipes until `timeout_s` after the call, SIGKILL, waitpid. Returns how many
/// milliseconds after the deadline the call returned.
double bare_timeout_late_ms(const std::vector<std::string>& argv, double timeout_s);

/// Floor of many concurrent runs: spawn `n` children (pipes + pidfd), then
/// one epoll loop drains the pipes and reaps each child when its pidfd fires.
/// Returns the wall time in milliseconds from the first spawn to the last reap.
double bare_many_ms(const std::vector<std::string>& argv, int n);

/// The same with each child contained as BareContained does (`bare` has at
/// least `n` slots); `argv` as for BareContained::start.
double bare_many_contained_ms(BareContained& bare, char* const* argv, int n);

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

/// `n` children of ours that spin (a busy machine, as an evaluation harness
/// keeps it), each killed and reaped by its pid when this goes.
class BusyLoops {
 public:
  explicit BusyLoops(long n);
  ~BusyLoops();
  BusyLoops(const BusyLoops&) = delete;
  BusyLoops& operator=(const BusyLoops&) = delete;
  std::size_t size() const { return pids_.size(); }

 private:
  std::vector<pid_t> pids_;
};

}  // namespace bsbench
