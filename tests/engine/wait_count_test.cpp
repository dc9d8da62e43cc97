// The sync driver waits on events: the number of ppoll calls of a run
// depends on what happens (reads, EOFs, the exit), never on how long the
// child is quiet. Counted through the system-call seam, so the check holds
// on a loaded machine too: a driver that kept an fd at EOF registered, or
// polled with a short timeout, would call ppoll thousands of times while
// the child sleeps a second.
#include <gtest/gtest.h>

#include <string>

#include "base/sys.hpp"
#include "bounded_subprocess/run.hpp"
#include "leak_check.hpp"

namespace {

namespace bs = bounded_subprocess;
namespace sys = bounded_subprocess::detail::sys;
using namespace std::chrono_literals;

int g_ppoll_calls = 0;  // the runs here are single-threaded

int counting_ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  ++g_ppoll_calls;
  return sys::real.ppoll(fds, n, timeout, mask);
}

class WaitCount : public ::testing::Test {
 protected:
  void SetUp() override {
    g_ppoll_calls = 0;
    sys::calls.ppoll = counting_ppoll;
  }
  void TearDown() override { sys::calls = sys::real; }
};

// Generous: a handful of wake-ups (output, EOFs, exit) is what a run needs.
constexpr int kMaxWaits = 50;

TEST_F(WaitCount, OutputsClosedPastTheBoundThenASecondOfQuiet) {
  bs_test::NoLeaks leaks;
  for (bool tail : {false, true}) {
    g_ppoll_calls = 0;
    // Past the bound the rest is spliced away (prefix mode), so the EOF is
    // seen by the splice; then the child sleeps a second.
    const bs::Result r = bs::run({bs_test::misbehave(), "out-close-sleep", "5000", "1000"},
                                 {.timeout = 30s, .max_output_size = 100, .tail = tail});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out.total_bytes, 5000u);
    EXPECT_GE(r.elapsed, 0.95s);
    EXPECT_LT(g_ppoll_calls, kMaxWaits) << "tail=" << tail << ": the driver spun while the child slept";
  }
  leaks.expect_clean();
}

TEST_F(WaitCount, QuietChildWrittenStdinAndTimeout) {
  bs_test::NoLeaks leaks;
  const bs::Result quiet = bs::run({bs_test::misbehave(), "exit-after-ms", "1000", "0"}, {.timeout = 30s});
  EXPECT_EQ(quiet.exit_code, 0) << quiet;
  EXPECT_LT(g_ppoll_calls, kMaxWaits);
  g_ppoll_calls = 0;
  const bs::Result fed = bs::run({bs_test::misbehave(), "read-line-then-sleep"},
                                 {.timeout = 2s, .stdin_data = std::string("line\n")});
  EXPECT_TRUE(fed.timeout) << fed;
  EXPECT_EQ(fed.out.data, "line\n");
  EXPECT_LT(g_ppoll_calls, kMaxWaits) << "the driver spun after stdin was written";
  leaks.expect_clean();
}

}  // namespace
