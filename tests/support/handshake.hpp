// Test support for putting events in an exact order, whatever the load of
// the machine: handshake files shared with the helper program, waiting for a
// process to have exited without reaping it, and this thread's CPU time.
//
// Usage, with the helper's `exit-then-grandchild-writes DIR N` mode:
//   bs_test::ExitThenWrite hs(4000);
//   ... start the run of hs.argv() and let it wait on its events ...
//   ASSERT_TRUE(hs.child_exits());        // the direct child has exited (not reaped)
//   ASSERT_TRUE(hs.grandchild_writes());  // then 4000 bytes arrive in each pipe
//   ... the run must return those bytes ...
#pragma once

#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "leak_check.hpp"

namespace bs_test {

/// A fresh directory under the temp dir, removed with everything in it at
/// the end of the scope.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bs_test_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
    EXPECT_FALSE(path_.empty()) << "mkdtemp failed";
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Creates (or truncates) an empty file.
inline bool touch(const std::string& path) {
  return static_cast<bool>(std::ofstream(path));
}

/// Waits until `path` exists, checking every millisecond; false after `limit`
/// (a bound that only catches a hang).
inline bool wait_for_file(const std::string& path,
                          std::chrono::milliseconds limit = std::chrono::milliseconds(30000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  struct stat st;
  while (::stat(path.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// The first integer in the file at `path` (-1 if none).
inline long read_number(const std::string& path) {
  std::ifstream f(path);
  long v = -1;
  f >> v;
  return f ? v : -1;
}

/// Waits until process `pid` has exited, without reaping it (its pidfd is
/// readable once it is a zombie); false after `limit`.
inline bool wait_exited(pid_t pid, std::chrono::milliseconds limit = std::chrono::milliseconds(30000)) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(limit.count()));
  } while (r < 0 && errno == EINTR);
  ::close(fd);
  return r == 1;
}

/// CPU time (user + system) this thread has used so far, in seconds.
inline double thread_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + 1e-6 * static_cast<double>(tv.tv_usec);
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

/// Drives the helper's `exit-then-grandchild-writes DIR N` mode: the direct
/// child exits when told to, and only then does its grandchild (which keeps
/// both pipes open, so no EOF ever comes) write N bytes of PATTERN to stdout
/// and to stderr. A driver that has not yet handled the exit when those bytes
/// arrive must still return them: they are in the pipes when it handles it.
class ExitThenWrite {
 public:
  /// `n` must fit in a pipe (64 KiB): nobody reads while they are written.
  explicit ExitThenWrite(unsigned long long n) : n_(n) {}

  /// The argv of the run; with `announce` the child first prints "pid P".
  std::vector<std::string> argv(bool announce = false) const {
    std::vector<std::string> a{misbehave(), "exit-then-grandchild-writes", dir_.path(), std::to_string(n_)};
    if (announce) a.push_back("announce");
    return a;
  }

  /// The direct child's pid (once it has started), or -1.
  pid_t child_pid() const {
    if (!wait_for_file(dir_ / "pid")) return -1;
    return static_cast<pid_t>(read_number(dir_ / "pid"));
  }

  /// Tells the direct child to exit and waits until it has (it is then a
  /// zombie, its pidfd readable, and nothing has been written to its pipes).
  bool child_exits() const {
    const pid_t pid = child_pid();
    return pid > 0 && touch(dir_ / "exit") && wait_exited(pid);
  }

  /// Tells the grandchild to write and waits until all its bytes are in the
  /// pipes. Returns its pid (-1 on failure).
  pid_t grandchild_writes() {
    if (!touch(dir_ / "write") || !wait_for_file(dir_ / "written")) return -1;
    grandchild_ = static_cast<pid_t>(read_number(dir_ / "written"));
    return grandchild_;
  }

  unsigned long long size() const { return n_; }
  /// The grandchild's pid, once it has written (else -1).
  pid_t grandchild_pid() const { return grandchild_; }

 private:
  unsigned long long n_;
  pid_t grandchild_ = -1;
  TempDir dir_;
};

}  // namespace bs_test
