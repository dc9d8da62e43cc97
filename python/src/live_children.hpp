// The children the native module started and has not reaped yet, kept so that
// interpreter exit can kill every one of them at once, whatever the threads
// that own them are doing: a sync run blocked in a daemon thread, an
// Interactive whose read_line or write holds its lock in another thread.
//
// Killing takes no lock of the owning objects: the registry holds its own
// pidfd of each direct child (the program, or the init of its containment),
// so a kill never reaches a process that merely reuses a pid, and the owner
// reaps later (or the process ends and init does). Only the process that
// started a child kills it: a forked child (os.fork, multiprocessing) starts
// with an empty registry, so its exit leaves its parent's children alone.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "bounded_subprocess/containment.hpp"

namespace bounded_subprocess::python {

/// Registers a child for the at-exit kill while the object lives.
class LiveChild {
 public:
  LiveChild() noexcept = default;
  /// `direct_pid` must be a child this process started and has not reaped
  /// (so that its pidfd names it): the program (process_group, or a warm
  /// sandbox entered directly: the rest of its run ends with the run's own
  /// end, or with its sandbox when this process exits) or the init of its
  /// containment. After `kill_live_children(true)` the run is killed
  /// at once instead: nothing started during finalization survives.
  LiveChild(pid_t direct_pid, Containment containment) noexcept;
  /// The same from the owner's pidfd of the direct child (duplicated), and
  /// the program's pid, which is the process group's id with process_group.
  LiveChild(int pidfd, pid_t program_pid, Containment containment) noexcept;
  ~LiveChild() { reset(); }
  LiveChild(LiveChild&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  LiveChild& operator=(LiveChild&& other) noexcept;
  LiveChild(const LiveChild&) = delete;
  LiveChild& operator=(const LiveChild&) = delete;

  /// Unregisters (the owner is about to reap, or has reaped, the child).
  void reset() noexcept;

 private:
  void add(pid_t pid, Containment containment, int pidfd) noexcept;

  std::uint64_t id_ = 0;
};

/// Kills every run this process registered and has not reaped: its process
/// group (with Linux 6.9's PIDFD_SIGNAL_PROCESS_GROUP, else by number after
/// checking through the pidfd that the leader is not reaped); in a PID
/// namespace, its init (the kernel then kills the whole namespace). A
/// subreaper's init is left to kill its run itself, which it does when this
/// process ends (killing it would free its descendants). Does not wait and
/// does not reap. With `final`, every child registered afterwards is killed
/// at once too. Safe to call from any thread, with or without the GIL.
void kill_live_children(bool final) noexcept;

/// Installs the fork handlers (empty registry in the child). Once, at import.
void install_live_children_fork_handlers();

}  // namespace bounded_subprocess::python
