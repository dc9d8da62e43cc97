// The scaffolding every AsyncInteractive test starts from: an io_context
// whose reactor fds exist before the leak checker takes its fd baseline.
#pragma once

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "leak_check.hpp"

namespace bs_itest {
/// A line as the sync entry point returns it: the line, or no line.
using Line = std::optional<std::string>;
/// An async_read_line completion seen as the sync entry point's value: the line
/// without error, no line with one (tests that care check the code).
inline Line line_of(std::error_code ec, std::string line) {
  return ec ? Line() : Line(std::move(line));
}
/// A completion kept as it came, for tests that expect an error code
/// (asio::experimental::as_tuple does not combine with use_future in Asio
/// 1.22). `handler()` must not outlive the object.
template <class T>
struct Completed {
  std::optional<std::error_code> ec;
  T value{};
  auto handler() {
    return [this](std::error_code e, T v) {
      ec = e;
      value = std::move(v);
    };
  }
};
}  // namespace bs_itest

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
