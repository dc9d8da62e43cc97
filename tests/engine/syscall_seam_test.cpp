// The event loop under hostile system calls: every other read, write,
// splice, ppoll and wait4 fails with EINTR, and reads and writes transfer
// fewer bytes than asked. The results must be exactly those of a clean run.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "base/sys.hpp"
#include "bounded_subprocess/run.hpp"
#include "leak_check.hpp"

namespace {

namespace sys = bounded_subprocess::detail::sys;
using namespace std::chrono_literals;

// Counters are plain ints: runs in this file are single-threaded.
int g_calls = 0;
int g_injected = 0;

bool inject() {
  if (++g_calls % 2 == 0) return false;
  ++g_injected;
  errno = EINTR;
  return true;
}

ssize_t flaky_read(int fd, void* buf, std::size_t n) {
  if (inject()) return -1;
  return sys::real.read(fd, buf, n > 1 ? n / 2 + 1 : n);  // short reads
}
ssize_t flaky_write(int fd, const void* buf, std::size_t n) {
  if (inject()) return -1;
  return sys::real.write(fd, buf, n > 1 ? n / 2 + 1 : n);  // short writes
}
ssize_t flaky_splice(int in, loff_t* in_off, int out, loff_t* out_off, std::size_t n, unsigned flags) {
  if (inject()) return -1;
  return sys::real.splice(in, in_off, out, out_off, n, flags);
}
int flaky_ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  if (inject()) return -1;
  return sys::real.ppoll(fds, n, timeout, mask);
}
pid_t flaky_wait4(pid_t pid, int* status, int options, rusage* usage) {
  if (inject()) return -1;
  return sys::real.wait4(pid, status, options, usage);
}

class SyscallSeam : public ::testing::Test {
 protected:
  void SetUp() override {
    g_calls = g_injected = 0;
    sys::calls = sys::Calls{flaky_read, flaky_write, flaky_splice, flaky_ppoll, flaky_wait4};
  }
  void TearDown() override { sys::calls = sys::real; }
};

TEST_F(SyscallSeam, EchoThroughStdinSurvivesEintrAndShortTransfers) {
  bs_test::NoLeaks leaks;
  const std::string input = bs_test::misbehave_pattern(0, 3 * 1024 * 1024 + 17);
  const auto r =
      bounded_subprocess::run({bs_test::misbehave(), "echo-stdin"},
                              {.timeout = 60s, .max_output_size = input.size(), .stdin_data = input});
  sys::calls = sys::real;
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.stdin_write_failed);
  EXPECT_EQ(r.out.data, input);
  EXPECT_FALSE(r.out.truncated);
  EXPECT_GT(g_injected, 10);
  leaks.expect_clean();
}

TEST_F(SyscallSeam, DiscardedFloodIsCountedExactly) {
  bs_test::NoLeaks leaks;
  const auto r = bounded_subprocess::run({bs_test::misbehave(), "flood-both", "5000000"},
                                         {.timeout = 60s, .max_output_size = 100});
  sys::calls = sys::real;
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, bs_test::misbehave_pattern(0, 100));
  EXPECT_EQ(r.out.total_bytes, 5000000u);
  EXPECT_EQ(r.err.total_bytes, 5000000u);
  EXPECT_TRUE(r.out.truncated);
  EXPECT_GT(g_injected, 10);
  leaks.expect_clean();
}

TEST_F(SyscallSeam, TimeoutStillLandsWhenPpollIsInterrupted) {
  bs_test::NoLeaks leaks;
  const auto r = bounded_subprocess::run({bs_test::misbehave(), "sleep-forever"}, {.timeout = 200ms});
  sys::calls = sys::real;
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(r.elapsed, 5s);
  leaks.expect_clean();
}

}  // namespace
