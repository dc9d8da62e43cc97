// Core tests of run(): the memory watchdog (the direct child and forked
// descendants are counted; small programs are left alone).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;

namespace {

const bs::Options kWatched{.timeout = 20s, .memory_limit_mb = 64, .memory_watchdog_interval = 50ms};

TEST(RunMemory, ChildOverTheLimitIsKilled) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "alloc-mb", "256"}, kWatched);
  EXPECT_TRUE(r.memory_limit_exceeded) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.reason, bs::EndReason::memory_limit);
  EXPECT_LT(r.elapsed, 10s) << "killed long before the deadline";
  leaks.expect_clean();
}

TEST(RunMemory, ForkedGrandchildOverTheLimitIsKilled) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "fork-alloc-mb", "256"}, kWatched);
  EXPECT_TRUE(r.memory_limit_exceeded) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.reason, bs::EndReason::memory_limit);
  EXPECT_LT(r.elapsed, 10s);
  auto child = static_cast<pid_t>(bs_test::field_after(r.out.data, "child"));
  ASSERT_GT(child, 0) << r.out.data;
  leaks.expect_clean({}, {child});
}

TEST(RunMemory, SmallProgramIsNotKilled) {
  bs_test::NoLeaks leaks;
  // Lives for many watchdog ticks, well under the limit.
  bs::Result r = bs::run({misbehave(), "exit-after-ms", "400", "0"}, kWatched);
  EXPECT_FALSE(r.memory_limit_exceeded) << r;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.reason, bs::EndReason::exited);
  bs::Result small = bs::run({misbehave(), "fork-alloc-mb", "8"},
                             {.timeout = 0.6s, .memory_limit_mb = 64, .memory_watchdog_interval = 50ms});
  EXPECT_FALSE(small.memory_limit_exceeded) << small;
  EXPECT_TRUE(small.timeout) << "8 MiB under a 64 MiB limit runs to the deadline";
  leaks.expect_clean();
}

TEST(RunMemory, NoLimitMeansNoWatchdog) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "alloc-mb-exit", "128"}, {.timeout = 30s});
  EXPECT_FALSE(r.memory_limit_exceeded) << r;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GT(r.usage.max_rss_kb, 100u * 1024) << "the child did hold 128 MiB";
  EXPECT_EQ(r.out.data, "allocated\n");
  leaks.expect_clean();
}

}  // namespace
