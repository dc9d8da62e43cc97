// The scaffolding every AsyncInteractive test starts from: an io_context
// whose reactor fds exist before the leak checker takes its fd baseline.
#pragma once

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>

#include "leak_check.hpp"

/// Runs `ctx` until it has no more work, failing the test on a hang.
inline void run_bounded(asio::io_context& ctx, std::chrono::seconds limit = std::chrono::seconds(30)) {
  ctx.run_for(limit);
  EXPECT_TRUE(ctx.stopped()) << "operations still pending after " << limit.count() << " s";
}

class AsyncInteractiveTest : public ::testing::Test {
 protected:
  asio::io_context ctx;
  asio::steady_timer reactor_up{ctx};  // creates Asio's reactor fds now
  bs_test::NoLeaks leaks;              // after them: its fd baseline includes them
};

/// The cancellation and misbehaviour suite, on the same scaffolding.
class AsyncInteractiveCancel : public AsyncInteractiveTest {};
