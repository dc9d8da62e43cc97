// Test support: reading a run's pipe to its end, whether it is blocking or
// not (a Child's pipes are O_NONBLOCK), without a sleep.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace bs_test {

/// Everything `fd` gives until EOF; on a read error what came before it and
/// " (read failed)". A hang fails by ctest's timeout.
inline std::string read_to_eof(int fd) {
  std::string out;
  char buf[512];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return out;
    } else if (errno == EAGAIN) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 60'000);
    } else if (errno != EINTR) {
      return out + " (read failed)";
    }
  }
}

}  // namespace bs_test
