// Killing a tree of processes that may be forking as fast as it can (a
// fork storm), by walking /proc: the subreaper init's end of a run, and the
// host's end of a run whose init was killed (tree_kill.cpp).
//
// Compiled freestanding with launch.cpp (the init calls it): raw system
// calls only, no libc, no errno; the host may call it too.
#pragma once

namespace bounded_subprocess::detail {

/// What a sweep does to each process of the tree.
enum class TreeSignal {
  /// SIGSTOP, then its children are listed. A stopped process can neither
  /// fork nor die, so its listing stays true: sweeps of SIGSTOP until one
  /// finds every process stopped before its listing freeze the tree (a
  /// storm stops competing for the CPU as it is stopped, where a killed
  /// storm's orphans, moving to the subreaper while a starved walk lists
  /// their dead parents, can race it for minutes).
  stop,
  /// The first sweep of SIGSTOP: as `stop`, without checking whether each
  /// process has stopped or is still there (it has not, yet), so it costs
  /// half as much where a starved walk matters most. Never complete.
  stop_quick,
  /// Its children are listed, then SIGKILL: one sweep ends a frozen tree.
  /// Never complete (a process continued by someone could have forked
  /// after its listing): a `kill` sweep checks.
  kill_frozen,
  /// SIGKILL, then its children are listed: no child forked in between is
  /// missed (a process with a SIGKILL pending cannot fork; the kernel checks
  /// under the lock that adds the child to the list).
  kill,
};

/// What one sweep saw.
struct TreeSweep {
  int killed = 0;  ///< processes sent SIGKILL (found alive)
  /// stop: every process was stopped before its listing (the tree is
  /// frozen). kill: every process below the root was killed, each before
  /// its children were listed, so nothing of the tree is left unkilled.
  /// False when a listing may have missed a child (its parent died while it
  /// was read, a process had several threads, no fd was left): sweep again
  /// once the dead parents' children have moved to the subreaper.
  bool complete = true;
};

/// `how` to every descendant of `root_pid` (0: the calling thread), found
/// through the /proc of the caller's PID namespace `proc_fd`. Each process
/// is pinned with a pidfd when found, so a pid reused meanwhile is never
/// signalled or walked. The root itself is not signalled.
TreeSweep sweep_tree(int proc_fd, int root_pid, TreeSignal how) noexcept;

/// Called with the pidfd of each process a walk killed (valid during the
/// call only), so that the caller can wait for them to be gone.
using KilledFn = void (*)(void* context, int pidfd);

/// The same walk, rooted at the process of `pidfd` (a process of ours that
/// is not our child), which is signalled too.
TreeSweep sweep_tree_of(int proc_fd, int pidfd, int pid, TreeSignal how, KilledFn killed = nullptr,
                        void* context = nullptr) noexcept;

}  // namespace bounded_subprocess::detail
