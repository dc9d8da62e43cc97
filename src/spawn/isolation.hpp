// The host's side of a run's isolation (Options::isolation): checking it,
// choosing how each limit is enforced on this machine, the limit cgroups,
// and the plan the program's process follows before exec
// (isolation_launch.cpp).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "spawn/child.hpp"
#include "spawn/launch.hpp"
#include "spawn/mount_views.hpp"

namespace bounded_subprocess::detail {

/// Throws std::invalid_argument for values that make no sense (a size of
/// 0, a limit above what the kernel takes, a volume whose source does not
/// exist or whose target is not absolute, too many volumes).
void validate_isolation(const Isolation& isolation);

/// `request` raised to what an isolated run needs (see below), probing
/// nothing; throws SpawnError when it asks for exactly a weaker one.
ContainmentRequest isolation_request(const Isolation& isolation, const ContainmentRequest& request);

/// The containment an isolated run needs: at least pid_namespace (the
/// namespaces the program's process sets up in need its init), cgroup for
/// a CPU limit. Throws SpawnError when `request` asks for exactly a weaker
/// one.
ContainmentRequest isolation_containment(const Isolation& isolation, const ContainmentRequest& request);

/// Whether a run with `isolation` can use a warm sandbox entered directly
/// (the program sets up its isolation itself there too): not with a CPU
/// limit or a file size limit, whose verdicts need the run's own init (its
/// CPU timer; SIGXFSZ of any process of the run seen as it reaps them), nor
/// with pids or memory limits that would be written into the run's own
/// cgroup v2 (a sandbox's cgroup is shared by its runs).
bool isolation_can_be_warm(const Isolation& isolation);

/// What a run's limits became: written into its cgroups, and what the
/// kernel counted against them at the end.
struct LimitCounters {
  bool pids = false;
  bool memory = false;
  bool memory_oom_kill = false;
  bool scratch = false;  ///< the scratch made by make_scratch() is full
};

/// A limit cgroup of a cgroup v1 hierarchy (pids or memory), made for a run
/// and, once that run is over, kept for the next (see isolation.cpp).
struct V1Cgroup {
  bool pids = false;  ///< the pids controller (else memory)
  UniqueFd parent;    ///< the host's own cgroup of that controller (O_PATH)
  std::string name;
  UniqueFd dir;    ///< holds a shared flock for the folder's life (create_locked_cgroup)
  UniqueFd procs;  ///< cgroup.procs, open for writing, for the program to join
  /// Its files read at each run's end (opened there, kept open while it is
  /// kept): the cumulative count of refusals or kills (pids.events,
  /// memory.oom_control), what it holds (pids.current,
  /// memory.usage_in_bytes) and, for memory, memory.failcnt (read, reset).
  UniqueFd events, current, failcnt;
  /// The limit its last run wrote ("" for a new one): the next run with the
  /// same limit writes nothing.
  std::string limit;
  /// Its count of refusals or kills when this run got it: the run's are
  /// those above it (0 for a new one).
  long long counted_before = 0;
};

/// Ends the v1 limit cgroups kept for the next runs (drop_warm_sandboxes
/// and the process's exit do).
void drop_idle_v1_cgroups() noexcept;

/// One run's isolation on the host: the plan for the program's process and
/// the v1 limit cgroups it joins (kept for a next run or removed once the
/// run is over, removed when this goes before).
class IsolationSetup {
 public:
  /// Prepares everything (the v1 cgroups included) for a run with
  /// `containment`; `run_cgroup` is the run's own cgroup v2 (containment
  /// cgroup), or -1. Throws SpawnError (subject containment) naming what
  /// the machine lacks; nothing is left behind then.
  IsolationSetup(const Isolation& isolation, Containment containment, int run_cgroup);
  IsolationSetup(const IsolationSetup&) = delete;
  IsolationSetup& operator=(const IsolationSetup&) = delete;
  ~IsolationSetup();

  const IsolationPlan* plan() const noexcept { return &plan_; }
  /// The scratch tmpfs (a detached mount) for a run with no init of its own
  /// to make it (a warm sandbox entered directly); kept here until the end
  /// (finish() tells whether it was full). -1 when the run has no scratch.
  /// Throws SpawnError (subject containment) when it cannot be made.
  int make_scratch();
  /// For a run that enters `sandbox` directly, the host's cwd `cwd`: a
  /// view (mount_views.hpp) where one is ready and the plan can use one (a
  /// new mount namespace, no volumes, a cwd not under the scratch). Returns
  /// the fd the program's process enters (kept here until the end), or -1:
  /// it makes its own.
  int use_view(WarmSandbox& sandbox, std::string_view cwd);
  /// Every process of the run is gone and its sandbox was shown clean: its
  /// view may serve again (see mount_views.hpp).
  void run_gone() noexcept { run_gone_ = true; }
  /// The run's cgroup v2 has the limit controllers: its init reads their
  /// events at the end.
  bool read_run_cgroup_events() const noexcept { return v2_limits_; }
  /// The host's CPU count, for the CPU limit's timer.
  static int cpu_count() noexcept;
  /// After the run: what the v1 limit cgroups counted for it. Then they
  /// are kept for a next run (see isolation.cpp) or removed.
  LimitCounters finish() noexcept;

 private:
  /// A v1 cgroup of `controller` (kept by an earlier run, or new) with
  /// `limit`, written by `set_limit` (given its folder) unless it has it
  /// already; throws SpawnError.
  V1Cgroup make_v1(const char* controller, const std::string& limit,
                   const std::function<bool(int)>& set_limit);
  /// The v1 cgroups go: back to the pool where the run is over and they
  /// can serve another (`reusable`), else removed.
  void release_v1(bool reusable) noexcept;

  IsolationPlan plan_{};
  std::string scratch_options_;
  std::vector<std::string> volume_targets_;
  std::vector<V1Cgroup> v1_;
  std::vector<long long> v1_counts_;  ///< what finish() read of each (pids.events max, oom_kill)
  bool v2_limits_ = false;
  UniqueFd scratch_;  ///< make_scratch()
  UniqueFd netns_;    ///< the pooled network namespace lent to this run
  MountView view_;    ///< use_view(): given back at the end
  bool run_gone_ = false;
  bool run_over_ = false;  ///< finish() ran: the run's processes are all gone
};

/// The environment of an isolated program: `env` (or the host's) with
/// TMPDIR=/tmp when it has a scratch; `env` itself otherwise.
std::optional<Environment> isolated_env(const Isolation& isolation, const std::optional<Environment>& env);

}  // namespace bounded_subprocess::detail
