// Global set-up of the core tests: the test process becomes a child
// subreaper, so that every process a run leaves behind (whatever its group)
// is re-parented to it and seen by bs_test::NoLeaks::expect_clean.
#include <gtest/gtest.h>

#include "leak_check.hpp"

namespace {

class SubreaperEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(bs_test::become_subreaper()); }
  void TearDown() override {
    // Orphans adopted by a test without NoLeaks: reap them, and fail if any
    // is still alive.
    EXPECT_TRUE(bs_test::reap_adopted_orphans().empty());
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new SubreaperEnvironment);

}  // namespace
