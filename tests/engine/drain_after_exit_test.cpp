// The sync driver when it learns of the child's exit before it has read the
// pipes. A real ppoll can report the pidfd alone while the pipes already hold
// bytes (it checks the fds one after the other: a pipe found empty, then the
// child writes and exits, then the pidfd is found ready); the driver must
// then read what is in the pipes before it ends the run. That order is rare
// with a real ppoll, so here the system-call seam makes it certain, two ways:
//  - the child's own bytes are in the pipes and ppoll reports only the pidfd;
//  - the exit really comes first, and a grandchild that holds the pipes
//    writes only after ppoll has returned with the pidfd.
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <string>

#include "base/sys.hpp"
#include "bounded_subprocess/run.hpp"
#include "handshake.hpp"
#include "leak_check.hpp"

namespace {

namespace bs = bounded_subprocess;
namespace sys = bounded_subprocess::detail::sys;
using namespace std::chrono_literals;

bool is_pidfd(int fd) {
  char target[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  return n > 0 && std::string(target, static_cast<std::size_t>(n)) == "anon_inode:[pidfd]";
}

// Index of the pidfd among `fds`, or -1.
int pidfd_slot(const pollfd* fds, nfds_t n) {
  for (nfds_t i = 0; i < n; ++i)
    if (is_pidfd(fds[i].fd)) return static_cast<int>(i);
  return -1;
}

// Single-threaded: the tests below run one run at a time.
int g_ppoll_calls = 0;
bs_test::ExitThenWrite* g_handshake = nullptr;
bool g_handshake_ok = false;

// A ppoll that waits for the pidfd alone and reports only it: the pipes
// look empty to the driver however much they hold.
int ppoll_pidfd_only(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  ++g_ppoll_calls;
  for (nfds_t i = 0; i < n; ++i) fds[i].revents = 0;
  const int slot = pidfd_slot(fds, n);
  if (slot < 0) return sys::real.ppoll(fds, n, timeout, mask);
  return sys::real.ppoll(&fds[slot], 1, timeout, mask);
}

// A real ppoll, around which the handshake makes the child exit first and
// the grandchild write only once ppoll has returned with the exit.
int ppoll_exit_then_write(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  if (g_ppoll_calls++ == 0) g_handshake_ok = g_handshake->child_exits();
  const int rc = sys::real.ppoll(fds, n, timeout, mask);
  const int slot = pidfd_slot(fds, n);
  if (rc > 0 && slot >= 0 && fds[slot].revents != 0 && g_handshake_ok) {
    g_handshake_ok = g_handshake->grandchild_writes() > 0;
    g_handshake = nullptr;
  }
  return rc;
}

class DrainAfterExit : public ::testing::Test {
 protected:
  void SetUp() override {
    g_ppoll_calls = 0;
    g_handshake = nullptr;
    g_handshake_ok = false;
  }
  void TearDown() override { sys::calls = sys::real; }
};

TEST_F(DrainAfterExit, ChildsBytesAreReadWhenOnlyTheExitIsReported) {
  bs_test::NoLeaks leaks;
  constexpr unsigned long long kN = 60000;  // fits in a pipe: the child exits at once
  for (bool tail : {false, true}) {
    sys::calls.ppoll = ppoll_pidfd_only;
    const bs::Result r = bs::run({bs_test::misbehave(), "flood-both", std::to_string(kN)},
                                 {.timeout = 30s, .max_output_size = 100000, .tail = tail});
    sys::calls = sys::real;
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.reason, bs::EndReason::exited);
    EXPECT_EQ(r.out.total_bytes, kN) << "tail=" << tail;
    EXPECT_EQ(r.err.total_bytes, kN) << "tail=" << tail;
    EXPECT_TRUE(r.out.data == bs_test::misbehave_pattern(0, kN)) << "tail=" << tail;
    EXPECT_TRUE(r.err.data == bs_test::misbehave_pattern(0, kN)) << "tail=" << tail;
    EXPECT_GE(g_ppoll_calls, 1);
  }
  leaks.expect_clean();
}

TEST_F(DrainAfterExit, DiscardedBytesAreCountedWhenOnlyTheExitIsReported) {
  bs_test::NoLeaks leaks;
  sys::calls.ppoll = ppoll_pidfd_only;
  const bs::Result r =
      bs::run({bs_test::misbehave(), "flood-both", "60000"}, {.timeout = 30s, .max_output_size = 10});
  sys::calls = sys::real;
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, bs_test::misbehave_pattern(0, 10));
  EXPECT_EQ(r.out.total_bytes, 60000u);
  EXPECT_EQ(r.err.total_bytes, 60000u);
  EXPECT_TRUE(r.out.truncated);
  leaks.expect_clean();
}

TEST_F(DrainAfterExit, BytesArrivingAfterTheExitWasSeenAreRead) {
  bs_test::NoLeaks leaks;
  bs_test::ExitThenWrite hs(40000);
  g_handshake = &hs;
  sys::calls.ppoll = ppoll_exit_then_write;
  // Under process_group only: with a stronger containment the grandchild
  // dies with the direct child, and the helper's pids are a namespace's.
  const bs::Result r = bs::run(
      hs.argv(), {.timeout = 60s, .max_output_size = 100000, .containment = bs::Containment::process_group});
  sys::calls = sys::real;
  ASSERT_TRUE(g_handshake_ok) << "the handshake with the helper failed";
  EXPECT_EQ(g_handshake, nullptr) << "ppoll never reported the exit";
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.reason, bs::EndReason::exited);
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.out.total_bytes, hs.size());
  EXPECT_EQ(r.err.total_bytes, hs.size());
  EXPECT_TRUE(r.out.data == bs_test::misbehave_pattern(0, hs.size()));
  EXPECT_TRUE(r.err.data == bs_test::misbehave_pattern(0, hs.size()));
  leaks.expect_clean({hs.child_pid()}, {hs.grandchild_pid()});
}

}  // namespace
