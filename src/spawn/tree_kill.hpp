// Killing a tree of processes that may be forking as fast as it can (a
// fork storm), by walking /proc: the subreaper init's end of a run, and the
// host's end of a run whose init was killed (tree_kill.cpp).
//
// Compiled freestanding with launch.cpp (the init calls it): raw system
// calls only, no libc, no errno; the host may call it too.
#pragma once

namespace bounded_subprocess::detail {

/// What one sweep saw.
struct TreeSweep {
  int killed = 0;  ///< processes sent SIGKILL (found alive)
  /// Every process below the root was killed, each after its children were
  /// listed (a killed process can no longer fork, so nothing of the tree
  /// is left unkilled). False when a listing may have missed a child (its
  /// parent died while it was read, a process had several threads, no fd
  /// was left): sweep again once the dead parents' children have moved to
  /// the subreaper.
  bool complete = true;
};

/// SIGKILL to every descendant of `root_pid` (0: the calling thread),
/// through the /proc of the caller's PID namespace `proc_fd`. Each process
/// is first pinned with a pidfd, then killed, then its children (of every
/// thread) are listed and killed the same way, so that no child forked
/// between the listing and the kill escapes (a process with a SIGKILL
/// pending cannot fork) and a pid reused meanwhile is never signalled or
/// walked. The root itself is not killed.
TreeSweep kill_tree(int proc_fd, int root_pid) noexcept;

/// Called with the pidfd of each process a walk killed (valid during the
/// call only), so that the caller can wait for them to be gone.
using KilledFn = void (*)(void* context, int pidfd);

/// SIGKILL to the process of `pidfd` and every descendant of it (the same
/// walk, rooted at a process of ours that is not our child).
TreeSweep kill_tree_of(int proc_fd, int pidfd, int pid, KilledFn killed = nullptr,
                       void* context = nullptr) noexcept;

}  // namespace bounded_subprocess::detail
