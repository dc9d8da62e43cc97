// What this process can use to contain a run, probed once: each mechanism
// is tried for real (a throw-away init that sets up its namespaces and
// exits), so the answer holds on this kernel, under this seccomp filter, as
// this user.
#pragma once

#include <sys/types.h>

#include <string>

#include "bounded_subprocess/containment.hpp"
#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

struct Machine {
  bool available[4] = {true, false, false, false};  ///< by Containment
  std::string why_not[4];                           ///< for errors, by Containment
  /// pid_namespace needs a new user namespace (the caller is not root).
  bool user_namespace = false;
  /// A fresh /proc mounts in the run's mount namespace.
  bool mount_proc = false;
  /// The host's /proc (O_PATH), open for the life of the process.
  int proc_fd = -1;
  /// cgroup: the caller's cgroup v2 directory (O_PATH), open for good.
  int cgroup_parent_fd = -1;
  std::string cgroup_parent;  ///< its path, for messages
};

/// Makes a cgroup named `prefix` + a counter in `parent_fd` and returns an
/// fd of it (O_RDONLY directory, CLOEXEC, above 2) holding a shared flock:
/// the mark of a living creator that the stale-cgroup sweep respects (it
/// holds across PID namespaces, unlike a pid). Keep it open (in every
/// process that keeps the run alive) until the folder is removed. `name`
/// gets the folder's name. Returns -errno on failure (nothing is left).
int create_locked_cgroup(int parent_fd, const std::string& prefix, std::string& name);

/// Removes the folders named bounded_subprocess.* in the cgroup directory
/// `parent_fd` whose creator is gone (no flock held on them, see
/// create_locked_cgroup) and that hold no process. Best effort: errors are
/// ignored.
void remove_stale_cgroups(int parent_fd);

/// The probe's answer (made at the first call; thread-safe).
const Machine& machine();

/// The containment `request` asks for on this machine. Throws SpawnError
/// (subject containment) when the machine cannot provide it.
Containment choose_containment(const ContainmentRequest& request);

/// clone() flags and plan fields for an init of `containment` (not
/// process_group) on this machine; used by the probe and by spawns alike.
unsigned long init_clone_flags(Containment containment, const Machine& m) noexcept;

}  // namespace bounded_subprocess::detail
