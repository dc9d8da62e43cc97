// The Asio drivers when the child's exit is handled before its pipes' bytes
// have been read. The test holds the event loop still while the direct child
// exits and only then lets a grandchild (which keeps the pipes open, so no
// EOF ever comes) write into both pipes; when the loop runs again, the
// kernel reports the pidfd before the pipes (epoll reports in the order the
// events happened), so the exit is handled first and only a drain of the
// pipes after the exit can return those bytes. Every entry point: async_run, the
// async line stream, and the sync run_stream_lines (held still inside its
// callback). The runs are contained by their process group only: under
// any stronger containment the grandchild dies with the direct child, and
// the pids the helper reports are the ones inside a PID namespace.
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

constexpr bounded_subprocess::Containment kGroup = bounded_subprocess::Containment::process_group;

// The pattern lines (without '\n') of the first `n` bytes of PATTERN.
std::vector<std::string> pattern_lines(unsigned long long n) {
  std::vector<std::string> lines;
  for (unsigned long long i = 0; i + 64 <= n; i += 64) lines.push_back(bs_test::misbehave_pattern(i, 63));
  return lines;
}

TEST(DrainAfterExit, AsyncRunReadsBytesThatArriveBeforeTheExitIsHandled) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  bs_test::ExitThenWrite hs(40000);
  std::optional<Result> result;
  async_run(io, hs.argv(), {.timeout = 60s, .max_output_size = 100000, .containment = kGroup},
            [&](std::error_code e, Result r) {
              EXPECT_FALSE(e);
              result = std::move(r);
            });
  io.poll();  // the run now waits on its pipes and its pidfd
  ASSERT_FALSE(result) << "the run ended before the child was told to exit";
  ASSERT_TRUE(hs.child_exits());
  ASSERT_GT(hs.grandchild_writes(), 0);
  io.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->exit_code, 0) << *result;
  EXPECT_EQ(result->reason, EndReason::exited);
  EXPECT_EQ(result->out.total_bytes, hs.size());
  EXPECT_EQ(result->err.total_bytes, hs.size());
  EXPECT_TRUE(result->out.data == bs_test::misbehave_pattern(0, hs.size()));
  EXPECT_TRUE(result->err.data == bs_test::misbehave_pattern(0, hs.size()));
  leaks.expect_clean({hs.child_pid()}, {hs.grandchild_pid()});
}

TEST(DrainAfterExit, LineStreamYieldsLinesAndKeepsStderrThatArriveBeforeTheExitIsHandled) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  bs_test::ExitThenWrite hs(64 * 500);
  auto stream = open_line_stream(io.get_executor(), hs.argv(),
                                 {.timeout = 60s, .max_output_size = 100000, .containment = kGroup});
  io.poll();
  ASSERT_FALSE(stream.finished());
  ASSERT_TRUE(hs.child_exits());
  ASSERT_GT(hs.grandchild_writes(), 0);
  std::vector<std::string> lines;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (auto line = co_await next_line(stream)) lines.push_back(std::move(*line));
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(stream.finished());
  const Result& r = stream.result();
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.reason, EndReason::exited);
  EXPECT_TRUE(lines == pattern_lines(hs.size())) << lines.size() << " lines";
  EXPECT_EQ(r.out.total_bytes, hs.size());
  EXPECT_EQ(r.err.total_bytes, hs.size());
  EXPECT_TRUE(r.err.data == bs_test::misbehave_pattern(0, hs.size()));
  leaks.expect_clean({hs.child_pid()}, {hs.grandchild_pid()});
}

TEST(DrainAfterExit, RunStreamLinesYieldsLinesAndKeepsStderrThatArriveBeforeTheExitIsHandled) {
  bs_test::NoLeaks leaks;
  bs_test::ExitThenWrite hs(64 * 500);
  std::vector<std::string> lines;
  bool handshake_ok = false;
  // The child announces itself with a first line; the callback holds the
  // driver still while the child exits and the grandchild writes.
  const Result r = run_stream_lines(hs.argv(/*announce=*/true),
                                    {.timeout = 60s, .max_output_size = 100000, .containment = kGroup},
                                    [&](std::string_view line) {
                                      if (lines.empty())
                                        handshake_ok = hs.child_exits() && hs.grandchild_writes() > 0;
                                      lines.emplace_back(line);
                                      return true;
                                    });
  ASSERT_TRUE(handshake_ok);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "pid " + std::to_string(hs.child_pid()));
  lines.erase(lines.begin());
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.reason, EndReason::exited);
  EXPECT_TRUE(lines == pattern_lines(hs.size())) << lines.size() << " lines";
  EXPECT_EQ(r.err.total_bytes, hs.size());
  EXPECT_TRUE(r.err.data == bs_test::misbehave_pattern(0, hs.size()));
  leaks.expect_clean({hs.child_pid()}, {hs.grandchild_pid()});
}

}  // namespace
