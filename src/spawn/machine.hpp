// What this process can use to contain a run. Each mechanism is tried for
// real (a throw-away init that sets up its namespaces and exits), so the
// answer holds on this kernel, under this seccomp filter, as this user; and
// each is tried only when first asked about, once per process, so that a run
// pays only for the mechanisms it may use (a process_group run for none).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>

#include "bounded_subprocess/containment.hpp"
#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

/// Whether a mechanism works here, by Containment (`m.available[i]`). The
/// first ask of a mechanism probes it and what it builds on (cgroup builds
/// on pid_namespace), once per process, thread-safe; later asks read the
/// answer. process_group needs no probe.
struct Availability {
  bool operator[](std::size_t containment) const;
};

/// Why a mechanism is not available, for errors (`m.why_not[i]`); probes as
/// Availability does.
struct Unavailability {
  const std::string& operator[](std::size_t containment) const;
};

struct Machine {
  Availability available;
  Unavailability why_not;
  /// The host's /proc (O_PATH), open for the life of the process.
  int proc_fd = -1;
  // Facts of pid_namespace (also used by cgroup): meaningful once
  // available[pid_namespace] (or available[cgroup]) has been asked, as
  // choose_containment has before it returns either; false until then.
  // Atomic, so that reading them early is no data race.
  /// pid_namespace needs a new user namespace (the caller is not root).
  std::atomic<bool> user_namespace{false};
  /// A fresh /proc mounts in the run's mount namespace.
  std::atomic<bool> mount_proc{false};
  // Facts of cgroup, meaningful once available[cgroup] has been asked.
  /// The caller's cgroup v2 directory (O_PATH), open for good; -1 when the
  /// cgroup probe found none usable or has not run.
  std::atomic<int> cgroup_parent_fd{-1};
  std::string cgroup_parent;  ///< its path, for messages
};

/// Makes a cgroup named `prefix` + a counter in `parent_fd` and returns an
/// fd of it (O_RDONLY directory, CLOEXEC, above 2) holding a shared flock:
/// the mark of a living creator that the stale-cgroup sweep respects (it
/// holds across PID namespaces, unlike a pid). Keep it open (in every
/// process that keeps the run alive) until the folder is removed. `name`
/// gets the folder's name. Returns -errno on failure (nothing is left).
int create_locked_cgroup(int parent_fd, const std::string& prefix, std::string& name);

/// The whole of a small file (of /proc, of a cgroup) `name` in `dir_fd`
/// (AT_FDCWD: the cwd, or an absolute name), read with plain read(2) (an
/// ifstream and a stringstream cost more than the reads); "" when it cannot
/// be read.
std::string read_small_file(int dir_fd, const char* name);

/// All an open file holds, read from its start with pread(2) (a cgroup file
/// kept open and read again); "" when it cannot be read.
std::string read_open_file(int fd);

/// Removes the folders named bounded_subprocess.* in the cgroup directory
/// `parent_fd` whose creator is gone (no flock held on them, see
/// create_locked_cgroup) and that hold no process. Best effort: errors are
/// ignored.
void remove_stale_cgroups(int parent_fd);

/// This process's own pidfd, opened once per process (with the machine,
/// where runs' inits may take their fds through it, so that its number is
/// low), -1 where pidfd_open is refused. A forked child gets one of its
/// own: its inits must never take fds from its parent.
int host_pidfd();

/// This process's machine: /proc is opened at the first call (thread-safe);
/// the mechanisms are probed as they are asked about (`available`).
const Machine& machine();

/// The containment `request` asks for on this machine, probing only what
/// the choice needs: an exact request probes that mechanism alone
/// (process_group nothing); otherwise the mechanisms are tried from the
/// strongest down and the first that works is taken (on a machine where
/// cgroup works, one throw-away init tries both its namespaces). Throws
/// SpawnError (subject containment) when the machine cannot provide it.
Containment choose_containment(const ContainmentRequest& request);

/// A run that would take the strongest mechanism, made before any was
/// probed, is its own probe: the mechanism it tries for real without a
/// throw-away init first (cgroup where the caller's cgroup v2 is usable,
/// else pid_namespace), with the facts a probe would most likely find
/// (a user namespace unless root, a fresh /proc) set in machine(). Once per
/// process, for the first caller only; nullopt for every other request, or
/// once anything was probed. The run then reports with proven_by_run, or
/// fails (any SpawnError) and is made again the probed way.
std::optional<Containment> unproven_containment(const ContainmentRequest& request);

/// The run of unproven_containment started (its program exec'd): its
/// mechanism, and pid_namespace beneath, are recorded as working, unless
/// a probe of another thread answered first.
void proven_by_run(Containment containment) noexcept;

/// clone() flags and plan fields for an init of `containment` (not
/// process_group) on this machine; used by the probe and by spawns alike.
unsigned long init_clone_flags(Containment containment, const Machine& m) noexcept;

}  // namespace bounded_subprocess::detail
