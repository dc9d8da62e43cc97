// The shared memory watchdog of the async entry points: kills in child and
// grandchild, and one /proc scan per tick for many runs.
#include <asio/io_context.hpp>

#include <gtest/gtest.h>

#include "async_test_util.hpp"

namespace {

using namespace bs_async_test;
using namespace std::chrono_literals;

TEST(AsyncWatchdog, KillsAChildAboveTheLimit) {
  bs_test::NoLeaks leaks;
  const auto t0 = std::chrono::steady_clock::now();
  Result r = run_async(with_pgid({"alloc-mb", "200"}),
                       {.timeout = 30s, .memory_limit_mb = 50, .memory_watchdog_interval = 50ms});
  EXPECT_LT(seconds_since(t0), 20.0);
  EXPECT_TRUE(r.memory_limit_exceeded);
  EXPECT_EQ(r.reason, EndReason::memory_limit);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.timeout);
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"))});
}

TEST(AsyncWatchdog, KillsWhenAGrandchildIsAboveTheLimit) {
  bs_test::NoLeaks leaks;
  Result r = run_async(with_pgid({"fork-alloc-mb", "200"}),
                       {.timeout = 30s, .memory_limit_mb = 50, .memory_watchdog_interval = 50ms});
  EXPECT_TRUE(r.memory_limit_exceeded);
  EXPECT_EQ(r.reason, EndReason::memory_limit);
  EXPECT_EQ(r.exit_code, -1);
  const auto child = static_cast<pid_t>(bs_test::field_after(r.out.data, "child"));
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"))}, {child});
}

TEST(AsyncWatchdog, UnderTheLimitRunsToTheEnd) {
  bs_test::NoLeaks leaks;
  Result r = run_async(misbehave({"exit-after-ms", "300", "0"}),
                       {.memory_limit_mb = 500, .memory_watchdog_interval = 20ms});
  EXPECT_FALSE(r.memory_limit_exceeded);
  EXPECT_EQ(r.exit_code, 0);
  leaks.expect_clean();
}

TEST(AsyncWatchdog, OneScanPerTickServesManyRuns) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  constexpr int kRuns = 10;
  int done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    async_run(io, {"sleep", "1"}, {.memory_limit_mb = 1000, .memory_watchdog_interval = 50ms},
              [&](std::error_code e, Result r) {
                EXPECT_FALSE(e);
                EXPECT_EQ(r.exit_code, 0);
                EXPECT_FALSE(r.memory_limit_exceeded);
                ++done;
              });
  }
  io.run();
  const double took = seconds_since(t0);
  const auto scans = bounded_subprocess::detail::memory_watchdog_scans(io);
  EXPECT_EQ(done, kRuns);
  // About took / 50 ms ticks (~20); one scan per run per tick would be ~200.
  const double ticks = took / 0.05;
  // (The lower bound only asks that it ticked: on a loaded machine each
  // tick may come late.)
  EXPECT_GE(static_cast<double>(scans), ticks / 10) << "the watchdog did not tick";
  EXPECT_LE(static_cast<double>(scans), ticks * 1.5 + 5) << "more than one scan per tick";
  leaks.expect_clean();
}

TEST(AsyncWatchdog, TheSmallestIntervalWins) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  int done = 0;
  auto count = [&](std::error_code, Result) { ++done; };
  async_run(io, {"sleep", "1"}, {.memory_limit_mb = 1000, .memory_watchdog_interval = 10s}, count);
  async_run(io, {"sleep", "1"}, {.memory_limit_mb = 1000, .memory_watchdog_interval = 100ms}, count);
  io.run();
  EXPECT_EQ(done, 2);
  // ~10 ticks at 100 ms (fewer when they come late on a loaded machine);
  // none at all if the 10 s interval had been used.
  EXPECT_GE(bounded_subprocess::detail::memory_watchdog_scans(io), 2u);
  leaks.expect_clean();
}

TEST(AsyncWatchdog, IdleWatchdogDoesNotKeepTheContextBusy) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  bool called = false;
  async_run(io, {"true"}, {.memory_limit_mb = 100, .memory_watchdog_interval = 30s},
            [&](std::error_code, Result) { called = true; });
  const auto t0 = std::chrono::steady_clock::now();
  io.run();
  EXPECT_TRUE(called);
  EXPECT_LT(seconds_since(t0), 10.0) << "io.run() waited for the watchdog's next tick";
  leaks.expect_clean();
}

}  // namespace
