// The helpers shared by the modes of bs_misbehave (see misbehave_io.hpp).
#include "misbehave_io.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace bs_misbehave {

char pattern_byte(unsigned long long i) {
  return i % 64 == 63 ? '\n' : static_cast<char>('a' + static_cast<int>(i % 26));
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(4);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_str(int fd, std::string_view s) {
  write_all(fd, s.data(), s.size());
}

[[noreturn]] void sleep_forever() {
  for (;;) ::pause();
}

[[noreturn]] void usage(const char* what) {
  std::fprintf(stderr, "bs_misbehave: %s\n", what);
  std::exit(2);
}

unsigned long long parse_count(const char* s) {
  if (s == nullptr) usage("missing number");
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') usage("bad number");
  return v;
}

void flood(int fd, unsigned long long count) {
  std::vector<char> chunk(64 * 1024);
  unsigned long long offset = 0;
  while (offset < count) {
    std::size_t n = chunk.size();
    if (count - offset < n) n = static_cast<std::size_t>(count - offset);
    for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern_byte(offset + i);
    write_all(fd, chunk.data(), n);
    offset += n;
  }
}

pid_t fork_or_die() {
  pid_t pid = ::fork();
  if (pid < 0) std::_Exit(6);
  return pid;
}

void sleep_ms(unsigned long long ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

unsigned long long count_stdin() {
  char buf[65536];
  unsigned long long total = 0;
  for (;;) {
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return total;
    total += static_cast<unsigned long long>(n);
  }
}

}  // namespace bs_misbehave
