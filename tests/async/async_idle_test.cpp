// The async entry points wait on events: while the child is quiet (its outputs at
// EOF, past the kept bound, or simply silent) the event loop sleeps. A
// driver that kept an fd at EOF registered would have its wait complete
// again and again: thousands of handlers and about a second of CPU per
// second of wall time. Checked two ways: the number of handlers
// io_context::run() executed (exact, whatever the load of the machine) and
// the CPU time of the thread that ran the loop (below 30% of the wall time,
// which only a spin on a lightly loaded machine exceeds).
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "async_test_util.hpp"
#include "handshake.hpp"

namespace {

using namespace bs_async_test;
using namespace std::chrono_literals;

constexpr double kMaxCpuShare = 0.3;
// Generous: a run needs a few handlers per event (output, EOFs, the exit);
// a line stream one more per line.
constexpr std::size_t kMaxHandlers = 300;

struct Clocks {
  double cpu0 = bs_test::thread_cpu_seconds();
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double cpu() const { return bs_test::thread_cpu_seconds() - cpu0; }
  double wall() const { return seconds_since(t0); }
};

TEST(AsyncIdle, RunWithOutputsClosedPastTheBound) {
  for (bool tail : {false, true}) {
    asio::io_context io;
    warm_up(io);
    bs_test::NoLeaks leaks;
    std::optional<Result> result;
    const Clocks clocks;
    async_run(io, misbehave({"out-close-sleep", "5000", "1000"}),
              {.timeout = 30s, .max_output_size = 100, .tail = tail}, [&](std::error_code e, Result r) {
                EXPECT_FALSE(e);
                result = std::move(r);
              });
    const std::size_t handlers = io.run();
    const double cpu = clocks.cpu(), wall = clocks.wall();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->exit_code, 0) << *result;
    EXPECT_EQ(result->out.data, bs_test::misbehave_pattern(tail ? 4900 : 0, 100));
    EXPECT_EQ(result->err.total_bytes, 5000u);
    EXPECT_GE(wall, 0.95);
    EXPECT_LT(handlers, kMaxHandlers) << "tail=" << tail << ": the loop spun while the child slept";
    EXPECT_LT(cpu, kMaxCpuShare * wall)
        << "tail=" << tail << ": " << cpu << " s of CPU over " << wall << " s";
    leaks.expect_clean();
  }
}

TEST(AsyncIdle, RunWithQuietChildAndWrittenStdin) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  std::optional<Result> quiet, fed;
  const Clocks clocks;
  async_run(io, misbehave({"exit-after-ms", "1000", "0"}), {.timeout = 30s},
            [&](std::error_code, Result r) { quiet = std::move(r); });
  async_run(io, misbehave({"read-line-then-sleep"}), {.timeout = 2s, .stdin_data = std::string("line\n")},
            [&](std::error_code, Result r) { fed = std::move(r); });
  const std::size_t handlers = io.run();
  const double cpu = clocks.cpu(), wall = clocks.wall();
  ASSERT_TRUE(quiet && fed);
  EXPECT_EQ(quiet->exit_code, 0) << *quiet;
  EXPECT_TRUE(fed->timeout) << *fed;
  EXPECT_EQ(fed->out.data, "line\n");
  EXPECT_LT(handlers, kMaxHandlers);
  EXPECT_LT(cpu, kMaxCpuShare * wall) << cpu << " s of CPU over " << wall << " s";
  leaks.expect_clean();
}

TEST(AsyncIdle, LineStreamWithOutputsClosed) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  // 10 lines, then both outputs closed and a second of quiet.
  auto stream = open_line_stream(io.get_executor(), misbehave({"out-close-sleep", "640", "1000"}),
                                 {.timeout = 30s, .max_output_size = 100});
  std::vector<std::string> lines;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (auto line = co_await next_line(stream)) lines.push_back(std::move(*line));
      },
      asio::detached);
  const Clocks clocks;
  const std::size_t handlers = io.run();
  const double cpu = clocks.cpu(), wall = clocks.wall();
  EXPECT_EQ(lines.size(), 10u);
  EXPECT_EQ(stream.result().exit_code, 0) << stream.result();
  EXPECT_EQ(stream.result().err.data, bs_test::misbehave_pattern(540, 100));
  EXPECT_GE(wall, 0.95);
  EXPECT_LT(handlers, kMaxHandlers) << "the loop spun while the child slept";
  EXPECT_LT(cpu, kMaxCpuShare * wall) << cpu << " s of CPU over " << wall << " s";
  leaks.expect_clean();
}

TEST(AsyncIdle, RunStreamLinesWithOutputsClosed) {
  bs_test::NoLeaks leaks;
  std::size_t lines = 0;
  const Clocks clocks;
  const Result r = run_stream_lines(misbehave({"out-close-sleep", "640", "1000"}), {.timeout = 30s},
                                    [&](std::string_view) { return ++lines > 0; });
  const double cpu = clocks.cpu(), wall = clocks.wall();
  EXPECT_EQ(lines, 10u);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_GE(wall, 0.95);
  EXPECT_LT(cpu, kMaxCpuShare * wall) << cpu << " s of CPU over " << wall << " s";
  leaks.expect_clean();
}

}  // namespace
