// The seam around the system calls of the event loop, so that tests can
// inject EINTR, EAGAIN and short transfers. Production code calls through
// `sys::calls`, which holds the real functions; a test swaps entries while
// no run is in progress (the table is not synchronized).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>

namespace bounded_subprocess::detail::sys {

struct Calls {
  ssize_t (*read)(int fd, void* buf, std::size_t n);
  ssize_t (*write)(int fd, const void* buf, std::size_t n);
  ssize_t (*splice)(int in, loff_t* in_off, int out, loff_t* out_off, std::size_t n, unsigned flags);
  int (*ppoll)(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask);
  pid_t (*wait4)(pid_t pid, int* status, int options, rusage* usage);
};

/// The table in use; starts as the real system calls.
extern Calls calls;
/// The real system calls, to restore `calls` or to call through from a fake.
extern const Calls real;

inline ssize_t read(int fd, void* buf, std::size_t n) {
  return calls.read(fd, buf, n);
}
inline ssize_t write(int fd, const void* buf, std::size_t n) {
  return calls.write(fd, buf, n);
}
inline ssize_t splice(int in, loff_t* in_off, int out, loff_t* out_off, std::size_t n, unsigned flags) {
  return calls.splice(in, in_off, out, out_off, n, flags);
}
inline int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  return calls.ppoll(fds, n, timeout, mask);
}
inline pid_t wait4(pid_t pid, int* status, int options, rusage* usage) {
  return calls.wait4(pid, status, options, usage);
}

/// ppoll's timeout for a wait from `now` until `deadline` (zero once it has
/// passed).
inline timespec timeout_until(std::chrono::steady_clock::time_point deadline,
                              std::chrono::steady_clock::time_point now) noexcept {
  if (deadline <= now) return {0, 0};
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count();
  return {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace bounded_subprocess::detail::sys
