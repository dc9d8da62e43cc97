// Small helpers shared by the Interactive tests (sync and async).
#pragma once

#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "leak_check.hpp"

namespace bs_itest {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// The calling thread's signal mask and whether SIGPIPE is pending: writing
/// to a dead child must leave both as they were.
struct SignalState {
  sigset_t mask;
  bool sigpipe_pending = false;

  static SignalState now() {
    SignalState s;
    sigemptyset(&s.mask);
    pthread_sigmask(SIG_SETMASK, nullptr, &s.mask);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    s.sigpipe_pending = sigismember(&pending, SIGPIPE) == 1;
    return s;
  }
  bool same_mask(const SignalState& other) const {
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig >= SIGRTMIN && sig <= SIGRTMAX) continue;  // libc-reserved ones may differ
      if (sigismember(&mask, sig) != sigismember(&other.mask, sig)) return false;
    }
    return true;
  }
};

/// SIGPIPE's disposition in the host: the library must never change it.
inline void* sigpipe_handler() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sigaction(SIGPIPE, nullptr, &sa);
  return reinterpret_cast<void*>(sa.sa_handler);
}

/// A line of `n` bytes whose content varies, so truncation is checkable.
inline std::string varied(std::size_t n, std::size_t seed = 0) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('A' + (i * 7 + seed) % 58));
  return s;
}

/// Text of `count` numbered lines "line N\n".
inline std::string numbered_lines(int count) {
  std::string s;
  for (int i = 0; i < count; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

}  // namespace bs_itest
