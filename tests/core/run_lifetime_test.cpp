// Core tests of run(): how a run ends. The direct child's exit ends it even
// when descendants hold the pipes; the deadline kills the whole group.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;

namespace {

TEST(RunLifetime, GrandchildHoldingPipesDoesNotDelayTheEnd) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "fork-grandchild-sleep"}, {.timeout = 10s});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.reason, bs::EndReason::exited);
  EXPECT_LT(r.elapsed, 3s) << "run waited for the grandchild's pipes";
  auto grandchild = static_cast<pid_t>(bs_test::field_after(r.out.data, "grandchild"));
  ASSERT_GT(grandchild, 0) << r.out.data;
  leaks.expect_clean({}, {grandchild});
}

TEST(RunLifetime, FloodingGrandchildIsKilledWhenTheChildExits) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "fork-grandchild-flood"}, {.timeout = 10s});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.timeout);
  EXPECT_LT(r.elapsed, 3s);
  // The grandchild's bytes may interleave with its pid line; check the group.
  auto pgid = static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"));
  EXPECT_EQ(r.out.data.rfind("pgid ", 0), 0u) << "the pgid line comes before the fork";
  leaks.expect_clean({pgid});
}

TEST(RunLifetime, ClosedOutputsDoNotEndTheRun) {
  // The child closes stdout/stderr and spins: EOF on the pipes is not the end.
  // (A deadline that leaves a loaded machine time to print "closing".)
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "close-outputs-spin"}, {.timeout = 1s});
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.reason, bs::EndReason::timeout);
  EXPECT_EQ(r.out.data, "closing\n");
  EXPECT_GE(r.elapsed, 0.99s);
  EXPECT_LT(r.elapsed, 5s);
  leaks.expect_clean();
}

TEST(RunLifetime, TimeoutKillsAndReports) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "sleep-forever"}, {.timeout = 1s});
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.reason, bs::EndReason::timeout);
  EXPECT_FALSE(r.memory_limit_exceeded);
  EXPECT_GE(r.elapsed, 0.99s);
  EXPECT_LT(r.elapsed, 4s);
  leaks.expect_clean();
}

TEST(RunLifetime, FractionalTimeout) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "sleep-forever"}, {.timeout = 200ms});
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_GE(r.elapsed, 0.19s);
  EXPECT_LT(r.elapsed, 2s);
  bs::Result q = bs::run({misbehave(), "sleep-forever"}, {.timeout = bs::Seconds(0.05)});
  EXPECT_TRUE(q.timeout);
  EXPECT_LT(q.elapsed, 1.5s);
  leaks.expect_clean();
}

TEST(RunLifetime, IgnoringSigtermDoesNotHelp) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "ignore-sigterm-sleep"}, {.timeout = 1s});
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_EQ(r.out.data, "ready\n");
  EXPECT_LT(r.elapsed, 4s);
  leaks.expect_clean();
}

TEST(RunLifetime, QuickExitIsNotDelayed) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "exit-after-ms", "100", "5"}, {.timeout = 10s});
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_FALSE(r.timeout);
  EXPECT_GE(r.elapsed, 0.09s);
  EXPECT_LT(r.elapsed, 3s);
  leaks.expect_clean();
}

TEST(RunLifetime, ForkStormIsFullyCleanedOnTimeout) {
  bs_test::NoLeaks leaks;
  // The deadline leaves a loaded machine (and a sanitized helper) the time
  // to fork all 50 before it.
  bs::Result r = bs::run({misbehave(), "fork-storm", "50"}, {.timeout = 5s, .max_output_size = 8192});
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_NE(r.out.data.find("forked 50"), std::string::npos) << r.out.data;
  auto children = bs_test::all_fields_after(r.out.data, "child");
  EXPECT_EQ(children.size(), 50u);
  leaks.expect_clean({}, children);
}

TEST(RunLifetime, GroupIsGoneAfterATimeout) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "fork-storm", "3"}, {.timeout = 2s});
  EXPECT_TRUE(r.timeout) << r;
  auto pgid = static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"));
  auto children = bs_test::all_fields_after(r.out.data, "child");
  ASSERT_EQ(children.size(), 3u) << r.out.data;
  leaks.expect_clean({pgid}, children);
}

TEST(RunLifetime, GroupIsGoneAfterTheChildExits) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "fork-grandchild-sleep"});
  EXPECT_EQ(r.exit_code, 0) << r;
  auto pgid = static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"));
  auto grandchild = static_cast<pid_t>(bs_test::field_after(r.out.data, "grandchild"));
  leaks.expect_clean({pgid}, {grandchild});
}

}  // namespace
