// Warm sandboxes: namespaces made once and used run after run.
//
// A contained run (pid_namespace or cgroup) needs a PID namespace whose
// init is ours, a mount namespace with a fresh /proc, and, when the caller
// is not root, a user namespace. Making them costs little; ending them
// costs much (the kernel waits for RCU grace periods, which stretch on a
// busy machine). So each host process keeps a pool of sandboxes: an init
// (InitKind::warm_sandbox, launch.cpp) already in its namespaces, /proc
// mounted. A run takes one for itself alone (one run per sandbox at a time:
// a program's `kill -9 -1` must not reach another run), enters it with
// setns(2) from a per-run shepherd cloned from the calling thread (so the
// program gets the caller's state at the time of the call: cwd, umask,
// rlimits, nice, credentials, no_new_privs, seccomp), and gives it back
// only when the shepherd proved that nothing of the run is left in it and
// its mounts did not change. Otherwise it is retired: its init is killed,
// which ends the namespace (off the run's path: nobody waits for it).
//
// Bounds: at most kMaxIdle idle sandboxes per process (each is one process
// that sleeps in ppoll, with 3 fds in the host and 68 KiB of the host's
// address space for its stack); one that stayed idle for kIdleSeconds is
// retired at the next use of the pool. At most kMaxIdle sandboxes exist
// (idle or in use): a run that finds none idle while that many are in use
// makes its own namespaces (the cold way, as with reuse off), so a run
// never waits for another and a burst of runs pays no more than before.
// The first run of a process goes cold as well (a process that makes one
// run pays what it paid before warm sandboxes, and leaves none behind).
//
// Fork: a child of fork() never uses its parent's sandboxes (it closes its
// copies of their fds at once, and makes its own). exec: every fd of the
// pool is close-on-exec, and a sandbox's init exits when its channel to
// the host closes.
//
// BOUNDED_SUBPROCESS_WARM=0 in the environment turns reuse off: every run
// then makes and ends its own namespaces, as before.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/unique_fd.hpp"

namespace bounded_subprocess::detail {

struct Machine;
struct MountViews;

/// One warm sandbox, leased to one run at a time.
struct WarmSandbox {
  pid_t pid = -1;                 ///< its init, our child (exit signal 0)
  pid_t owner = -1;               ///< the process that made it (a child of fork never uses it)
  UniqueFd pidfd;                 ///< of the init: setns target
  UniqueFd channel;               ///< host's end of the init's SOCK_SEQPACKET channel
  UniqueFd mounts;                ///< the init's /proc/PID/mounts: POLLPRI once its mounts change
  void* stack = nullptr;          ///< the init's stack and plan (the init shares our memory)
  unsigned long setns_flags = 0;  ///< CLONE_NEWPID | CLONE_NEWNS [| CLONE_NEWUSER]
  long long idle_since_ms = 0;    ///< steady clock, when it went back to the pool
  /// A sandbox made for a cgroup run has a cgroup of its own, which its
  /// cgroup runs use one after the other (a folder made and removed per run
  /// cost as much as the rest of the containment): its init and each run's
  /// program are born into it. Emptied at each run's end; a run that wrote
  /// to one of its files or made a folder in it (root can) retires the
  /// sandbox, so no cgroup setting reaches the next run. Removed when the
  /// sandbox ends (by the host, or by its init once the host is gone).
  UniqueFd cgroup_dir;                           ///< the folder, locked as every run's (create_locked_cgroup)
  std::string cgroup_name;                       ///< its name under the machine's cgroup parent
  std::shared_ptr<const UniqueFd> cgroup_procs;  ///< its cgroup.procs, read-only (the memory watchdog's)
  int cgroup_watch = -1;                         ///< its inotify watch (the pool's inotify fd)
  bool cgroup_changed = false;                   ///< the watch saw a change (pool lock)
  UniqueFd cgroup_events;                        ///< its cgroup.events (whether it holds a process)
  /// Without a user namespace (root), a run enters the sandbox directly:
  /// the host clones the program into its PID namespace and the program
  /// enters its mount namespace (Child, launch.cpp), with no shepherd; the
  /// host then tells by the namespace's own /proc that nothing of the run
  /// is left. -1 where runs go through a shepherd.
  UniqueFd proc;
  /// Mount views made ahead in it for isolated runs (mount_views.hpp),
  /// shared with the maker thread while it makes them; none until asked.
  std::shared_ptr<MountViews> views;
};

/// Whether the mount namespace of a /proc/.../mounts file open in
/// `mounts_fd` changed since it was opened (POLLPRI); a poll that fails
/// counts as a change. For warm sandboxes and mount views alike.
bool mounts_changed(int mounts_fd) noexcept;

/// Whether runs of pid_namespace and cgroup use warm sandboxes here (the
/// machine mounts a fresh /proc in a new mount namespace, and reuse is not
/// turned off).
bool warm_sandboxes_enabled(const Machine& m) noexcept;

/// A sandbox for one run: an idle one, else a new one while fewer than the
/// pool keeps are in use. nullptr otherwise, or when none can be made (the
/// run then makes its own namespaces); after a failure to make one, warm
/// sandboxes are off for the rest of the process.
/// `with_cgroup`: a sandbox with a cgroup of its own (for a cgroup run;
/// one without is returned when no cgroup can be made for it).
WarmSandbox* warm_acquire(const Machine& m, bool with_cgroup) noexcept;

/// The run is over and the shepherd reported the sandbox clean: back to
/// the pool, unless its mounts or its cgroup changed or the pool is full.
void warm_release(WarmSandbox* sandbox) noexcept;

/// The sandbox cannot be shown clean (or the run failed): kill its init
/// (the namespace dies with it) and reap it later, off the run's path.
void warm_retire(WarmSandbox* sandbox) noexcept;

/// Retires every idle sandbox and waits until each is gone (reaped).
void warm_drop_idle() noexcept;

/// A warm shepherd could not enter a sandbox (the host's cwd or root is
/// not found there): the run goes cold; after a few, warm reuse is turned
/// off for the process.
void warm_declined() noexcept;

}  // namespace bounded_subprocess::detail
