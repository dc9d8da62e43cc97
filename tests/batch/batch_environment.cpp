// The batch tests run as a child subreaper: a process that a batch left
// behind (a job's descendant that outlived its run, a job bounded-run never
// killed) is re-parented to the test, and bs_test::NoLeaks reports it.
#include <gtest/gtest.h>

#include "leak_check.hpp"

namespace {

class Subreaper : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(bs_test::become_subreaper()); }
};

const auto* const kSubreaper = ::testing::AddGlobalTestEnvironment(new Subreaper);

}  // namespace
