// The one process primitive under every entry point: a contained child with its
// pipes. Spawn it into the chosen containment, write and read without
// blocking, kill everything it contains, collect its status.
//
// Event-loop agnostic: the owner waits on the fds (the pipes and `exit_fd`)
// however it likes (ppoll, Asio) and calls back in.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.hpp"
#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

class IsolationSetup;
struct InitReport;

using Clock = std::chrono::steady_clock;

/// Where one of the child's standard fds comes from or goes to.
enum class StdioMode {
  pipe,     ///< a pipe whose other end the parent keeps (non-blocking, CLOEXEC)
  null,     ///< /dev/null
  inherit,  ///< the parent's own fd of the same number
};

/// Which containment a spawn must use.
struct ContainmentRequest {
  /// This mechanism or an error; when absent, the strongest available...
  std::optional<Containment> exactly{};
  /// ...but none weaker than this (an error otherwise).
  Containment at_least = Containment::process_group;
};

struct ChildSpec {
  const std::vector<std::string>& argv;
  const std::optional<Environment>& env;
  const std::optional<std::string>& cwd;
  StdioMode stdin_mode = StdioMode::null;
  StdioMode stdout_mode = StdioMode::pipe;
  StdioMode stderr_mode = StdioMode::pipe;
  ContainmentRequest containment{};
  /// Bytes put into the stdin pipe before the program starts, as many as the
  /// pipe takes at once (`Child::prefilled()` says how many): small stdin
  /// data is then in place however fast the program exits.
  std::string_view stdin_prefill{};
  /// The run's isolation (nullptr: none). Checked here too.
  const Isolation* isolation = nullptr;
  /// Return once a run's own init is cloned, without waiting for its report
  /// that the program has exec'd: `start_fd()` turns readable with it, and
  /// `complete_start()` then takes it (and throws what `spawn` would have).
  /// Meanwhile the init sets the run up on another CPU while the caller
  /// starts the next run. Only such a start defers: one that may have to be
  /// made again (a process's first contained run, a warm sandbox) or with
  /// an isolation is awaited by `spawn` as always.
  bool defer_start = false;
};

/// How the run ended, as its init or wait4 reported it.
struct ExitInfo {
  int status = 0;  ///< raw wait status of the program
  std::chrono::microseconds user_cpu{0};
  std::chrono::microseconds system_cpu{0};
  std::uint64_t max_rss_kb = 0;
  /// The run's init was killed before it could report (broken_run.cpp):
  /// everything found of the run was killed by the host instead.
  bool containment_broken = false;
  /// False when `status` could not be had (containment_broken only; `status`
  /// then reads as SIGKILL).
  bool status_known = true;
  /// The isolation limits the run ran into (scratch is not known here).
  LimitsHit limits{};
  /// The kernel killed a process of the run at its memory limit.
  bool memory_oom_kill = false;
  /// The run had a kernel memory limit.
  bool kernel_memory_limit = false;
};

/// The library's exit code convention: the status, or minus the signal.
int exit_code_from_status(int status) noexcept;

/// Whom the memory watchdog counts for one run. A copy stays valid after
/// the run ends (the watchdog may sample on another thread meanwhile): the
/// pids then name no process of the run, and the cgroup.procs fd stays open
/// until the last copy goes.
struct Members {
  Containment containment = Containment::process_group;
  pid_t pgid = -1;              ///< process_group: the group
  pid_t init_pid = -1;          ///< otherwise: the init; its descendants are the run
  pid_t program_pid = -1;       ///< a warm sandbox entered directly: the program and its descendants
  pid_t sandbox_init_pid = -1;  ///< a warm sandbox's init: its descendants too
  std::shared_ptr<const UniqueFd> cgroup_procs;  ///< cgroup: the run's cgroup.procs (read-only)
};

/// Throws std::invalid_argument for bad argv, env or cwd strings.
void validate_command(const std::vector<std::string>& argv, const std::optional<Environment>& env,
                      const std::optional<std::string>& cwd);

/// Outcome of a non-blocking transfer.
enum class Io {
  done,         ///< everything asked for was transferred (write), or bytes came (read)
  would_block,  ///< the pipe is full (write) or empty (read): wait for readiness
  closed,       ///< EOF (read), or the reader is gone (write: EPIPE)
};

class Child {
 public:
  /// Validates (std::invalid_argument), picks the containment and spawns.
  /// Throws SpawnError naming the program, the cwd or the containment when
  /// it cannot start, std::system_error when the host is out of a resource.
  /// Nothing is left behind when it throws.
  static Child spawn(const ChildSpec& spec);

  /// A deferred start (ChildSpec::defer_start) whose report has not been
  /// taken: readable once the init has told whether the program exec'd (or
  /// has died). -1 when no start is pending.
  int start_fd() const noexcept { return pending_start_ ? channel_.get() : -1; }
  bool starting() const noexcept { return pending_start_ != nullptr; }
  /// Takes a deferred start's report (waiting for it if `start_fd()` is not
  /// readable yet). True when the program runs (its pid is known from here
  /// on) or no start was pending; false when it could not start: then call
  /// `end_failed_start`.
  bool complete_start();
  /// After `complete_start` said false: ends the run (everything reaped,
  /// every fd closed, `finished()`) and throws what `spawn` would have.
  [[noreturn]] void end_failed_start();

  Child() = default;
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  /// Kills everything and waits for it unless `finish` has run.
  ~Child();

  /// The program's pid in this process's PID namespace (0 when not known).
  pid_t pid() const noexcept { return pid_; }
  Containment containment() const noexcept { return containment_; }
  /// Our own child: the program (process_group) or its init. Until `finish`
  /// it is not reaped, so `waitid(P_PID, direct_pid(), ... | __WALL)` with
  /// WNOWAIT tells from any thread whether the run is over.
  pid_t direct_pid() const noexcept { return direct_; }
  Clock::time_point started() const noexcept { return started_; }
  std::size_t prefilled() const noexcept { return prefilled_; }

  /// The parent's ends of the pipes (invalid when not piped, or closed).
  UniqueFd& stdin_pipe() noexcept { return stdin_; }
  UniqueFd& stdout_pipe() noexcept { return stdout_; }
  UniqueFd& stderr_pipe() noexcept { return stderr_; }
  const UniqueFd& stdin_pipe() const noexcept { return stdin_; }
  const UniqueFd& stdout_pipe() const noexcept { return stdout_; }
  const UniqueFd& stderr_pipe() const noexcept { return stderr_; }

  /// Readable once the program has exited (with a containment other than
  /// process_group, `exited()` then says whether every process of the run
  /// is gone too; if not, wait for it again). -1 after `finish`.
  int exit_fd() const noexcept { return exit_fd_.get(); }
  /// Whether the run is over: `exit_fd` is readable and, in a warm sandbox
  /// entered directly, nothing else of the run is left. Never blocks; once
  /// the program has exited it starts the end of what is left (the
  /// sandbox's init kills it), and `exit_fd` turns readable again when that
  /// is done. The program is then reaped (its status kept for `finish`).
  bool exited() noexcept;
  /// A pidfd whose SIGKILL ends the run (with what exited() and finish()
  /// do after), for a caller outside the Child's thread: our own child's,
  /// or in a warm sandbox entered directly the program's.
  int kill_pidfd() const noexcept {
    return direct_end_ != DirectEnd::none ? program_pidfd_.get() : exit_fd_.get();
  }

  /// Writes a prefix of `data` to stdin without blocking; `written` grows by
  /// what went in. SIGPIPE never reaches the host (see SigpipeGuard).
  Io write_some(std::string_view data, std::size_t& written);

  /// SIGKILL to everything the run contains. Returns at once; `exit_fd`
  /// turns readable when it is all gone.
  void kill() noexcept;
  /// Once `exited()`: kills what is left (process_group), reaps and
  /// returns the program's status (called before, it waits for the end).
  /// Throws std::system_error when the status cannot be known (the host
  /// ignores SIGCHLD, or the init died without a report); everything is
  /// reaped then too.
  ExitInfo finish();
  /// kill(), wait for the end, finish(); for destructors and error paths.
  /// Never throws (a status that cannot be known reads as SIGKILL).
  ExitInfo kill_and_finish() noexcept;
  bool finished() const noexcept { return finished_; }

  /// Whom the memory watchdog counts (valid until `finish`).
  Members members() const noexcept;

 private:
  friend class ChildStart;  ///< the steps of `spawn` (child.cpp)
  /// A deferred start: what its failure names, and its report once taken.
  struct PendingStart;
  struct PendingStartDelete {
    void operator()(PendingStart* start) const noexcept;
  };
  using PendingStartPtr = std::unique_ptr<PendingStart, PendingStartDelete>;
  /// Receives the init's first report (`flags`: recvmsg's); true when it
  /// says the program started, whose pid is then known. `n` is what the
  /// receive returned.
  bool take_start_report(InitReport& report, ssize_t& n, int flags = 0) noexcept;
  /// Takes the init's first report: the program's pid, or the start's
  /// failure, thrown after ending the run.
  void await_start(const ChildSpec& spec);
  [[noreturn]] void end_start(ssize_t n, const InitReport& report, const ChildSpec& spec);
  /// In `finish`: the report of a deferred start nobody took. False when
  /// the start failed (the init exits then with no further report).
  bool skip_start_report() noexcept;
  void release() noexcept;
  bool settle_direct() noexcept;
  ExitInfo finish_direct();
  void add_isolation_counts(ExitInfo& info) noexcept;
  /// Waits (poll on exit_fd) until exited().
  void wait_for_end() noexcept;

  /// A warm sandbox entered directly (no shepherd): `exit_fd_` is an epoll
  /// set of what the end waits for, first the program's pidfd.
  enum class DirectEnd : unsigned char {
    none,      ///< not such a run
    running,   ///< the program runs
    draining,  ///< the program is reaped; the sandbox's init ends the rest (its answer comes)
    dying,     ///< the sandbox's init is gone; its exit says its namespace is empty
    over,
  };

  pid_t pid_ = 0;
  pid_t direct_ = -1;  ///< our own child: the program, or its init
  Containment containment_ = Containment::process_group;
  Clock::time_point started_{};
  std::size_t prefilled_ = 0;
  UniqueFd stdin_;
  UniqueFd stdout_;
  UniqueFd stderr_;
  UniqueFd exit_fd_;  ///< pidfd of `direct_`
  UniqueFd channel_;  ///< to the init
  /// subreaper: the program's pidfd (sent by the init), to end the run
  /// should the init be killed.
  UniqueFd program_pidfd_;
  std::shared_ptr<const UniqueFd> cgroup_procs_;
  std::string cgroup_name_;                    ///< the run's cgroup, removed (again) once the init is reaped
  void* region_ = nullptr;                     ///< the init's stacks and plan (given back once it is reaped)
  std::shared_ptr<IsolationSetup> isolation_;  ///< the run's limit cgroups, until its end
  bool kernel_memory_limit_ = false;
  void* sandbox_ = nullptr;  ///< the WarmSandbox the run uses (back to the pool once it is over)
  DirectEnd direct_end_ = DirectEnd::none;
  ExitInfo direct_exit_{};  ///< what reaping the program told
  bool direct_sandbox_clean_ = false;
  bool killed_ = false;
  bool finished_ = false;
  PendingStartPtr pending_start_;  ///< while a deferred start's report is to come
};

/// How many inits this process has started sharing its fd table and taking
/// their fds from it (InitPlan::fetch_from), rather than copying it: for
/// tests, which must know that they saw that path.
std::uint64_t inits_that_took_their_fds() noexcept;

}  // namespace bounded_subprocess::detail
