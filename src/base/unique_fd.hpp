// An owned file descriptor: closed exactly once, never copied.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace bounded_subprocess::detail {

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  // close(2) is not retried on EINTR: on Linux the fd is gone either way.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// `fd` itself when it is not 0, 1 or 2; else a close-on-exec copy numbered
/// 3 or more, `fd` closed: an fd of ours must never land on a standard fd of
/// a host that runs with one of them closed. -1 (errno set) when `fd` is -1
/// or the copy cannot be made.
inline int keep_above_stdio(int fd) noexcept {
  if (fd < 0 || fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

}  // namespace bounded_subprocess::detail
