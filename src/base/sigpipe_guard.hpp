// Writing to a pipe whose reader has gone raises SIGPIPE, whose default
// action kills the writer: the host. The library never touches the host's
// signal dispositions; it blocks SIGPIPE in the writing thread for the
// moment of the write instead, so that the write fails with EPIPE.
#pragma once

#include <signal.h>

#include <cerrno>
#include <ctime>

namespace bounded_subprocess::detail {

/// Blocks SIGPIPE in the calling thread while it lives. When a write inside
/// reported EPIPE (call `note_epipe()`), the SIGPIPE it raised is consumed
/// before the old mask comes back; a SIGPIPE that was already pending (the
/// thread had it blocked) is left alone. Costs two sigprocmask calls, or one
/// when the thread blocks SIGPIPE already.
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept {
    const sigset_t set = pipe_set();
    pthread_sigmask(SIG_BLOCK, &set, &old_);
    already_blocked_ = sigismember(&old_, SIGPIPE) == 1;
    if (already_blocked_) {
      // Only a thread that blocks SIGPIPE can have one pending.
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
  }
  ~SigpipeGuard() {
    if (epipe_ && !was_pending_) {
      const sigset_t set = pipe_set();
      const timespec zero{0, 0};
      while (sigtimedwait(&set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    if (!already_blocked_) pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

  /// A write under this guard failed with EPIPE: it raised a SIGPIPE.
  void note_epipe() noexcept { epipe_ = true; }

 private:
  static sigset_t pipe_set() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return set;
  }

  sigset_t old_;
  bool already_blocked_ = false;
  bool was_pending_ = false;
  bool epipe_ = false;
};

}  // namespace bounded_subprocess::detail
