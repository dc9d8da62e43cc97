// The sinks of the engine: a bounded capture and the line sink with
// back-pressure, alone and behind a Supervisor driven by the sync driver
// (the drain after the exit goes into the line sink; a full queue pauses
// stdout and taking lines resumes it).
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/sys.hpp"
#include "drivers/sync_driver.hpp"
#include "engine/sink.hpp"
#include "engine/supervisor.hpp"
#include "leak_check.hpp"

namespace {

namespace bs = bounded_subprocess;
namespace sys = bounded_subprocess::detail::sys;
using bs::detail::Sink;
using bs::detail::Supervisor;
using namespace std::chrono_literals;

TEST(Sink, CaptureKeepsItsBoundAndNeverPauses) {
  Sink s = Sink::capture(4, false);
  EXPECT_FALSE(s.discarding());
  s.append("abcdef");
  EXPECT_TRUE(s.discarding());
  EXPECT_FALSE(s.paused());
  s.count_discarded(10);
  EXPECT_EQ(s.lines(), nullptr);
  s.end();
  const bs::Capture c = s.take();
  EXPECT_EQ(c.data, "abcd");
  EXPECT_TRUE(c.truncated);
  EXPECT_EQ(c.total_bytes, 16u);
}

TEST(Sink, LinesPauseAtTheQueueCapAndResumeWhenTaken) {
  Sink s = Sink::lines(100, 8);
  ASSERT_NE(s.lines(), nullptr);
  s.append("abc\ndef\n");
  EXPECT_FALSE(s.paused());  // 6 bytes of lines queued
  s.append("gh\nij");
  EXPECT_TRUE(s.paused());  // 8 bytes: at the cap
  EXPECT_FALSE(s.discarding());
  EXPECT_EQ(s.lines()->pop_line().value(), "abc");
  EXPECT_FALSE(s.paused());
  s.end();  // the last line, without '\n', is kept
  std::vector<std::string> rest;
  while (auto line = s.lines()->pop_line()) rest.push_back(*line);
  EXPECT_EQ(rest, (std::vector<std::string>{"def", "gh", "ij"}));
  const bs::Capture c = s.take();
  EXPECT_EQ(c.data, "");
  EXPECT_EQ(c.total_bytes, 13u);
  EXPECT_FALSE(c.truncated);
}

TEST(Sink, LinesReportTheCap) {
  Sink s = Sink::lines(3);
  s.append("abcdef\nxy\n");
  const bs::Capture c = s.take();
  EXPECT_TRUE(c.truncated);
  EXPECT_EQ(c.total_bytes, 10u);
  EXPECT_EQ(s.lines()->pop_line().value(), "def");
}

bool is_pidfd(int fd) {
  char target[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  return n > 0 && std::string(target, static_cast<std::size_t>(n)) == "anon_inode:[pidfd]";
}

// A ppoll that waits for the pidfd alone and reports only it: the driver
// never reads the pipes before the exit.
int ppoll_pidfd_only(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  for (nfds_t i = 0; i < n; ++i) fds[i].revents = 0;
  for (nfds_t i = 0; i < n; ++i)
    if (is_pidfd(fds[i].fd)) return sys::real.ppoll(&fds[i], 1, timeout, mask);
  return sys::real.ppoll(fds, n, timeout, mask);
}

class SinkRun : public ::testing::Test {
 protected:
  void TearDown() override { sys::calls = sys::real; }
};

TEST_F(SinkRun, DrainAfterTheExitGoesIntoTheLineSink) {
  bs_test::NoLeaks leaks;
  {
    sys::calls.ppoll = ppoll_pidfd_only;
    Supervisor sup({"/bin/sh", "-c", "printf 'one\\n\\ntwo\\nlast'; printf 'err' >&2"}, {.timeout = 30s},
                   Sink::lines(100), Sink::capture(100, true));
    bs::detail::drive_sync(sup, {}, {});
    sys::calls = sys::real;
    ASSERT_TRUE(sup.done());
    std::vector<std::string> lines;
    while (auto line = sup.stdout_lines()->pop_line()) lines.push_back(*line);
    EXPECT_EQ(lines, (std::vector<std::string>{"one", "", "two", "last"}));
    const bs::Result r = sup.take_result();
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out.data, "");
    EXPECT_EQ(r.out.total_bytes, 13u);
    EXPECT_FALSE(r.out.truncated);
    EXPECT_EQ(r.err.data, "err");
  }
  leaks.expect_clean();
}

TEST_F(SinkRun, FullLineQueuePausesStdoutUntilLinesAreTaken) {
  bs_test::NoLeaks leaks;
  {
    constexpr std::size_t kCap = 4096;
    constexpr std::uint64_t kBytes = 4 * 1024 * 1024;  // far more than the cap and a pipe
    Supervisor sup({"/bin/sh", "-c", "yes 0123456789abcdef | head -c " + std::to_string(kBytes)},
                   {.timeout = 60s}, Sink::lines(100, kCap), Sink::capture(100, true));
    int paused_rounds = 0;
    std::size_t most_queued = 0;
    std::uint64_t lines = 0;
    bs::detail::drive_sync(sup, {}, [&] {
      bs::detail::LineSplitter& q = *sup.stdout_lines();
      most_queued = std::max(most_queued, q.queued_bytes());
      // Paused means stdout is left out of the next wait; the sync entry point
      // takes every line at once, so each pause ends here.
      if (!sup.want_stdout() && sup.stdout_fd() >= 0) ++paused_rounds;
      while (q.pop_line()) ++lines;
      EXPECT_TRUE(sup.want_stdout() || sup.stdout_fd() < 0);
    });
    while (sup.stdout_lines()->pop_line()) ++lines;
    const bs::Result r = sup.take_result();
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out.total_bytes, kBytes);
    EXPECT_EQ(lines, (kBytes + 16) / 17);  // the last line has no '\n'
    EXPECT_GT(paused_rounds, 0);
    // One read past the cap at most (a read is at most 1 MiB).
    EXPECT_LE(most_queued, kCap + 1024 * 1024);
  }
  leaks.expect_clean();
}

}  // namespace
