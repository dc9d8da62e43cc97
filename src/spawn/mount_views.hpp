// Mount views: the mount namespace of an isolated run, made ahead and used
// again while no run changed it.
//
// An isolated run that reads the host's files read-only, or has a scratch,
// needs a mount namespace of its own. Made by the program's process
// (unshare, the read-only view, the scratch placed) and ended at its exit
// (the kernel unmounts the copy and waits for an RCU grace period), it cost
// each run 0.1-0.15 ms, half of what isolation added to a warm run. A view
// is such a namespace, made by a thread of the host in one warm sandbox's
// mount namespace (its /proc is the sandbox's), read-only or with
// /sys/fs/cgroup and /proc/sys protected as the run asks, with its scratch
// tmpfs at /tmp already. The program only enters it (setns).
//
// A view serves the next run of its sandbox with the same isolation only
// when its run provably left nothing in it: every process of the run gone
// (the sandbox shown clean), its mount table unchanged since it was made
// (POLLPRI on its mounts file: a mount propagated from the host would not
// be read-only there), and its scratch untouched: an inotify watch of the
// scratch's root saw nothing (no file made, even removed again, no change
// of the root's owner, mode, times or xattrs, not even an open or a
// listing of it; anything deeper starts with a folder made there), and the
// tmpfs has the free blocks and inodes it was made with. Otherwise the
// maker thread ends it and makes another, off the run's path. A run that
// finds no view ready makes its namespace itself, as before: no run waits
// for the maker.
//
// Views exist only for runs that enter a warm sandbox directly (a root
// host: the maker needs CAP_SYS_ADMIN in the sandbox's namespaces) and have
// no volumes (those differ from run to run).
//
// Bounds: at most kViewsPerSandbox (3) views per warm sandbox (3 fds and
// an inotify watch each, an empty tmpfs), ended with it; one inotify
// instance while any view exists; one thread, started at the process's
// second isolated warm run, ended after kIdle (10 s) with nothing to do.
// Fork: a child of fork() never uses its parent's views, watch or thread
// (it closes its copies). exec: every fd is close-on-exec.
#pragma once

#include <sys/statfs.h>

#include <memory>
#include <string>

#include "base/unique_fd.hpp"

namespace bounded_subprocess::detail {

struct IsolationPlan;
struct WarmSandbox;

/// The views of one warm sandbox (WarmSandbox::views).
struct MountViews;

/// One view, lent to one run at a time.
struct MountView {
  unsigned flags = 0;   ///< what it protects (mount_views.cpp)
  std::string scratch;  ///< its scratch's size ("Nm"), "" for none
  UniqueFd ns;          ///< the namespace (/proc/thread-self/ns/mnt of the maker in it)
  UniqueFd mounts;      ///< its mounts file: POLLPRI once they change
  UniqueFd tmp;         ///< the scratch's root, -1 for none
  int wd = -1;          ///< the maker's watch of the scratch
  struct statfs tmp_room {};
  /// Back to its sandbox's views for the next run (the maker's otherwise).
  std::shared_ptr<MountViews> home;

  explicit operator bool() const noexcept { return static_cast<bool>(ns); }
};

/// A view of `sandbox` for a run with `plan` (a new mount namespace, no
/// volumes), or an empty one (the run makes its own; the maker is asked
/// for one). `sandbox` is leased to the caller.
MountView take_mount_view(WarmSandbox& sandbox, const IsolationPlan& plan);

/// The run of `view` is over. `run_gone`: every process of it is gone (its
/// sandbox was shown clean). The view serves again if nothing of the run is
/// left in it; else it is ended by the maker, which makes another.
void give_back_mount_view(MountView view, bool run_gone) noexcept;

/// Lets the maker finish its work and end its thread, and ends every view
/// given up (drop_warm_sandboxes: nothing of the pool is left open).
void settle_mount_views() noexcept;

}  // namespace bounded_subprocess::detail
