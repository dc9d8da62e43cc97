// Global set-up of the test suites that run children (linked into each of
// them): the test process becomes a child subreaper, so that every process
// a run leaves behind, whatever its group or session, is re-parented to it
// (not to init) and seen by bs_test::NoLeaks::expect_clean. At the end,
// orphans adopted by a test without a NoLeaks check are reaped, and any
// still alive fails the suite.
#include <gtest/gtest.h>

#include "leak_check.hpp"

namespace {

class SubreaperEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(bs_test::become_subreaper()); }
  void TearDown() override { EXPECT_TRUE(bs_test::reap_adopted_orphans().empty()); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new SubreaperEnvironment);

}  // namespace
