// The children the native module started and has not reaped yet, kept so that
// interpreter exit can kill every one of them at once, whatever the threads
// that own them are doing: a sync run blocked in a daemon thread, an
// Interactive whose read_line or write holds its lock in another thread.
//
// Killing takes no lock of the owning objects: the registry holds its own
// pidfd of each child, so a kill never reaches a process that merely reuses
// a pid, and the owner reaps later (or the process ends and init does).
// Only the process that started a child kills it: a forked child (os.fork,
// multiprocessing) starts with an empty registry, so its exit leaves its
// parent's children alone.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace bounded_subprocess::python {

/// Registers a child for the at-exit kill while the object lives.
class LiveChild {
 public:
  LiveChild() noexcept = default;
  /// `pid` must be a child this process started and has not reaped (so that
  /// its pidfd names it). After `kill_live_children(true)` the child is
  /// killed at once instead: nothing started during finalization survives.
  explicit LiveChild(pid_t pid) noexcept;
  ~LiveChild() { reset(); }
  LiveChild(LiveChild&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  LiveChild& operator=(LiveChild&& other) noexcept;
  LiveChild(const LiveChild&) = delete;
  LiveChild& operator=(const LiveChild&) = delete;

  /// Unregisters (the owner is about to reap, or has reaped, the child).
  void reset() noexcept;

 private:
  std::uint64_t id_ = 0;
};

/// SIGKILLs the process group of every registered child of this process
/// (with Linux 6.9's PIDFD_SIGNAL_PROCESS_GROUP, else after checking through
/// the pidfd that the leader is not reaped). Does not wait and does not reap.
/// With `final`, every child registered afterwards is killed at once too.
/// Safe to call from any thread, with or without the GIL.
void kill_live_children(bool final) noexcept;

/// Installs the fork handlers (empty registry in the child). Once, at import.
void install_live_children_fork_handlers();

}  // namespace bounded_subprocess::python
