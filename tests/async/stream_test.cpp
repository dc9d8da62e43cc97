// Line streams: the async LineStream and the sync run_stream_lines.
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "async_test_util.hpp"
#include "stream/line_stream_hooks.hpp"

namespace {

using namespace bs_async_test;
using namespace std::chrono_literals;

// Reads every line of `stream` with a coroutine, running `io` to the end.
std::vector<std::string> read_all(asio::io_context& io, LineStream& stream,
                                  std::size_t stop_after = SIZE_MAX) {
  std::vector<std::string> lines;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (auto line = co_await next_line(stream)) {
          lines.push_back(std::move(*line));
          if (lines.size() == stop_after) stream.close();
        }
      },
      asio::detached);
  io.run();
  return lines;
}

TEST(LineStream, ReadsAllLinesAndTheResult) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto stream = open_line_stream(io.get_executor(), misbehave({"print-args", "one", "two", "", "three"}), {});
  const pid_t pgid = stream.pid();
  auto lines = read_all(io, stream);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "", "three"}));
  ASSERT_TRUE(stream.finished());
  EXPECT_EQ(stream.result().exit_code, 0);
  EXPECT_EQ(stream.result().reason, EndReason::exited);
  EXPECT_EQ(stream.result().out.total_bytes, 15u);
  EXPECT_TRUE(stream.result().out.data.empty());
  leaks.expect_clean({pgid});
}

TEST(LineStream, FinalPartialLineIsYielded) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto stream = open_line_stream(io.get_executor(), {"/bin/sh", "-c", "printf 'a\\nb\\r\\nlast'"}, {});
  EXPECT_EQ(read_all(io, stream), (std::vector<std::string>{"a", "b\r", "last"}));
  leaks.expect_clean();
}

TEST(LineStream, ManyLinesAcrossReadsAreExact) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  const unsigned long long n = 4ull * 1024 * 1024;  // 65536 lines of 63 bytes
  auto stream =
      open_line_stream(io.get_executor(), misbehave({"flood-out", std::to_string(n)}), {.timeout = 90s});
  auto lines = read_all(io, stream);
  ASSERT_EQ(lines.size(), n / 64);
  const std::string all = bs_test::misbehave_pattern(0, n);
  bool same = true;
  for (std::size_t i = 0; i < lines.size() && same; ++i) same = lines[i] == all.substr(i * 64, 63);
  EXPECT_TRUE(same);
  EXPECT_EQ(stream.result().out.total_bytes, n);
  EXPECT_FALSE(stream.result().out.truncated);
  leaks.expect_clean();
}

TEST(LineStream, StopAfterFirstLineKillsTheGroup) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  // The direct child must outlive the first line (fork-storm forks, prints,
  // then sleeps): a child that exits at once would end the stream by itself,
  // racing the stop.
  auto stream = open_line_stream(io.get_executor(), misbehave({"fork-storm", "3"}), {.timeout = 30s});
  const pid_t pgid = stream.pid();
  const auto t0 = std::chrono::steady_clock::now();
  auto lines = read_all(io, stream, 1);
  EXPECT_LT(seconds_since(t0), 10.0);
  ASSERT_GE(lines.size(), 1u);
  EXPECT_EQ(stream.result().reason, EndReason::cancelled);
  EXPECT_EQ(stream.result().exit_code, -1);
  leaks.expect_clean({pgid});
}

TEST(LineStream, DestroyedMidStreamLeavesNothing) {
  bs_test::NoLeaks leaks;
  pid_t pgid = -1;
  std::optional<std::string> first;
  {
    asio::io_context io;
    auto stream = std::make_unique<LineStream>(
        open_line_stream(io.get_executor(), with_pgid({"fork-storm", "3"}), {.timeout = 30s}));
    pgid = stream->pid();
    stream->async_next([&](std::error_code ec, std::string line) {
      if (!ec) first = line;
      stream.reset();  // destroyed from within its own handler, mid-stream
    });
    io.run();
  }
  ASSERT_TRUE(first);
  EXPECT_EQ(first->rfind("pgid ", 0), 0u) << *first;  // the shell's own pid, printed before its exec
  EXPECT_TRUE(bs_test::same_process_inside(bs_test::field_after(*first, "pgid"), pgid,
                                           bounded_subprocess::strongest_containment()))
      << *first << " is not process " << pgid;
  leaks.expect_clean({pgid});
}

TEST(LineStream, DestroyedWithoutReadingLeavesNothing) {
  bs_test::NoLeaks leaks;
  pid_t pgid = -1;
  {
    asio::io_context io;
    auto stream = open_line_stream(io.get_executor(), misbehave({"fork-storm", "3"}), {.timeout = 30s});
    pgid = stream.pid();
    io.run_for(200ms);
  }
  leaks.expect_clean({pgid});
}

TEST(LineStream, LongLineIsCappedKeepingItsEnd) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto stream = open_line_stream(
      io.get_executor(),
      {"/bin/sh", "-c", "printf 'head'; \"$0\" long-line 100000; echo ok", bs_test::misbehave()},
      {.max_line_size = 1000});
  auto lines = read_all(io, stream);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], std::string(1000, 'x'));
  EXPECT_EQ(lines[1], "ok");
  EXPECT_TRUE(stream.result().out.truncated);
  EXPECT_EQ(stream.result().out.total_bytes, 4u + 100001u + 3u);
  leaks.expect_clean();
}

TEST(LineStream, StderrTailIsKept) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  const unsigned long long n = 1000000;
  auto stream = open_line_stream(io.get_executor(), misbehave({"flood-err", std::to_string(n)}),
                                 {.max_output_size = 100});
  EXPECT_TRUE(read_all(io, stream).empty());
  EXPECT_EQ(stream.result().err.data, bs_test::misbehave_pattern(n - 100, 100));
  EXPECT_EQ(stream.result().err.total_bytes, n);
  leaks.expect_clean();
}

TEST(LineStream, TimeoutEndsTheStream) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  // (A deadline that leaves a loaded machine time to print the pgid.)
  auto stream = open_line_stream(io.get_executor(), with_pgid({"sleep-forever"}), {.timeout = 1s});
  const pid_t pgid = stream.pid();
  const auto t0 = std::chrono::steady_clock::now();
  auto lines = read_all(io, stream);
  EXPECT_LT(seconds_since(t0), 5.0);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("pgid ", 0), 0u) << lines[0];
  EXPECT_TRUE(
      bs_test::same_process_inside(bs_test::field_after(lines[0], "pgid"), pgid, stream.result().containment))
      << lines[0] << " is not process " << pgid;
  EXPECT_TRUE(stream.result().timeout);
  EXPECT_EQ(stream.result().exit_code, -1);
  leaks.expect_clean({pgid});
}

TEST(LineStream, StdinDataAndGrandchildHoldingStdout) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto stream =
      open_line_stream(io.get_executor(), misbehave({"echo-stdin"}), {.stdin_data = std::string("a\nb\n")});
  EXPECT_EQ(read_all(io, stream), (std::vector<std::string>{"a", "b"}));
  io.restart();
  auto held = open_line_stream(io.get_executor(), misbehave({"fork-grandchild-sleep"}), {.timeout = 20s});
  const auto t0 = std::chrono::steady_clock::now();
  auto lines = read_all(io, held);
  EXPECT_LT(seconds_since(t0), 5.0) << "the stream waited for the grandchild";
  ASSERT_EQ(lines.size(), 2u);  // "pgid G pid P", "grandchild PID"
  const long pid_inside = bs_test::field_after(lines[0], "pid");
  EXPECT_EQ(bs_test::field_after(lines[0], "pgid"), pid_inside) << "not its own group: " << lines[0];
  EXPECT_TRUE(bs_test::same_process_inside(pid_inside, held.pid(), held.result().containment))
      << lines[0] << " is not process " << held.pid();
  EXPECT_EQ(held.result().exit_code, 0);
  leaks.expect_clean({held.pid()}, {static_cast<pid_t>(bs_test::field_after(lines[1], "grandchild"))});
}

TEST(LineStream, StdinTimeoutMarksFailureEvenIfChildExitsZero) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  // As for async_run: the child reads its stdin only once it is closed, so
  // only the stdin bound can leave the 4 MiB unwritten.
  const std::size_t size = 4 * 1024 * 1024;
  auto stream =
      open_line_stream(io.get_executor(), misbehave({"read-stdin-late", "60000"}),
                       {.timeout = 90s, .stdin_data = std::string(size, 'x'), .stdin_write_timeout = 200ms});
  const auto t0 = std::chrono::steady_clock::now();
  auto lines = read_all(io, stream);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_LT(std::stoull(lines[0]), size) << "the child read all of stdin";
  const Result& r = stream.result();
  EXPECT_TRUE(r.stdin_write_failed) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.reason, EndReason::exited);
  EXPECT_FALSE(r.timeout);
  EXPECT_LT(seconds_since(t0), 45.0) << "stdin was not closed at its bound";
  leaks.expect_clean();
}

TEST(LineStream, ErrorsAtOpen) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  EXPECT_THROW(open_line_stream(io.get_executor(), {"/nonexistent/bs-nope"}, {}), std::system_error);
  EXPECT_THROW(open_line_stream(io.get_executor(), {}, {}), std::invalid_argument);
  EXPECT_THROW(open_line_stream(io.get_executor(), {"true"}, {.max_line_size = 0}), std::invalid_argument);
  EXPECT_THROW(open_line_stream(io.get_executor(), {"true"}, {.timeout = -1s}), std::invalid_argument);
  leaks.expect_clean();
}

TEST(LineStream, CancellingANextLosesNoLine) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  // The first line only comes after 300 ms.
  auto stream = open_line_stream(io.get_executor(), {"/bin/sh", "-c", "sleep 0.3; echo late"}, {});
  asio::cancellation_signal signal;
  std::error_code first_error;
  bool first_called = false;
  stream.async_next(asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e, std::string l) {
    first_called = true;
    first_error = e;
    EXPECT_EQ(l, "");
  }));
  asio::steady_timer timer(io, 50ms);
  timer.async_wait([&](std::error_code) { signal.emit(asio::cancellation_type::total); });
  io.run_for(150ms);
  ASSERT_TRUE(first_called);
  EXPECT_EQ(first_error, asio::error::operation_aborted);
  io.restart();
  EXPECT_EQ(read_all(io, stream), (std::vector<std::string>{"late"}));
  EXPECT_EQ(stream.result().exit_code, 0);
  leaks.expect_clean();
}

TEST(LineStream, SecondPendingNextIsALogicError) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto stream = open_line_stream(io.get_executor(), {"/bin/sh", "-c", "sleep 0.2; echo x"}, {});
  bool second_called = false;
  std::optional<std::string> first;
  stream.async_next([&](std::error_code ec, std::string l) {
    if (!ec) first = l;
  });
  EXPECT_THROW(stream.async_next([&](std::error_code, std::string) { second_called = true; }),
               std::logic_error);
  io.run();
  EXPECT_EQ(first, std::optional<std::string>("x"));
  EXPECT_FALSE(second_called) << "the second handler is destroyed, never called";
  // Once the first has completed, another call is fine (the stream ended: eof).
  std::error_code third;
  stream.async_next([&](std::error_code ec, std::string) { third = ec; });
  io.restart();
  io.run();
  EXPECT_EQ(third, asio::error::eof);
  leaks.expect_clean();
}

TEST(LineStream, EndHookRunsOnceAndDelaysTheEnd) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  int hook_calls = 0;
  asio::steady_timer cleanup(io);
  detail::StreamHooks hooks{.on_end = [&](Result& r, std::function<void()> done) {
    ++hook_calls;
    r.exit_code = 42;  // the hook may adjust the result
    cleanup.expires_after(200ms);
    cleanup.async_wait([done = std::move(done)](std::error_code) { done(); });
  }};
  auto stream = detail::LineStreamAccess::open(io.get_executor(), misbehave({"print-args", "l"}), {},
                                               std::move(hooks), detail::EntryPoint::open_line_stream);
  bool finished_at_nullopt = false;
  const auto t0 = std::chrono::steady_clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (co_await next_line(stream)) {
        }
        finished_at_nullopt = stream.finished();
      },
      asio::detached);
  io.run();
  EXPECT_GE(seconds_since(t0), 0.19);
  EXPECT_EQ(hook_calls, 1);
  EXPECT_TRUE(finished_at_nullopt);
  EXPECT_EQ(stream.result().exit_code, 42);
  stream.close();
  EXPECT_EQ(hook_calls, 1);
  leaks.expect_clean();
}

TEST(LineStream, ThrowingEndHookIsAnErrorCodeOnceThenEof) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  detail::StreamHooks hooks{
      .on_end = [](Result&, std::function<void()>) { throw std::runtime_error("hook"); }};
  auto stream = detail::LineStreamAccess::open(io.get_executor(), misbehave({"print-args", "l"}), {},
                                               std::move(hooks), detail::EntryPoint::open_line_stream);
  std::vector<std::pair<std::error_code, std::string>> got;
  std::function<void()> next = [&] {
    stream.async_next([&](std::error_code ec, std::string line) {
      got.emplace_back(ec, line);
      if (ec != asio::error::eof) next();
    });
  };
  next();
  io.run();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], std::make_pair(std::error_code{}, std::string("l")));
  EXPECT_EQ(got[1].first, bounded_subprocess::errc::end_hook_failed);
  EXPECT_EQ(got[2].first, asio::error::eof);
  EXPECT_TRUE(stream.finished());
  leaks.expect_clean();
}

TEST(LineStream, NextOnAMovedFromStreamThrows) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto stream = open_line_stream(io.get_executor(), misbehave({"print-args", "l"}), {});
  LineStream other = std::move(stream);
  EXPECT_THROW(stream.async_next([](std::error_code, std::string) {}), std::logic_error);
  EXPECT_EQ(read_all(io, other), (std::vector<std::string>{"l"}));
  leaks.expect_clean();
}

TEST(LineStream, TwoThreadIoContext) {
  asio::io_context io(2);
  warm_up(io);
  bs_test::NoLeaks leaks;
  constexpr int kStreams = 6;
  std::atomic<int> good{0};
  std::vector<std::unique_ptr<LineStream>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::make_unique<LineStream>(
        open_line_stream(io.get_executor(), misbehave({"flood-out", "640000"}), {.timeout = 60s})));
    LineStream* s = streams.back().get();
    // Everything about a stream happens on its strand.
    asio::co_spawn(
        s->get_executor(),
        [s, &good]() -> asio::awaitable<void> {
          std::size_t n = 0;
          while (co_await next_line(*s)) ++n;
          if (n == 10000 && s->result().exit_code == 0) ++good;
        },
        asio::detached);
  }
  std::thread t([&] { io.run(); });
  io.run();
  t.join();
  EXPECT_EQ(good.load(), kStreams);
  streams.clear();
  leaks.expect_clean();
}

TEST(RunStreamLines, ReadsAllLines) {
  bs_test::NoLeaks leaks;
  std::vector<std::string> lines;
  Result r = run_stream_lines(misbehave({"print-args", "x", "y"}), {}, [&](std::string_view l) {
    lines.emplace_back(l);
    return true;
  });
  EXPECT_EQ(lines, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(r.exit_code, 0);
  leaks.expect_clean();
}

TEST(RunStreamLines, StopAfterFirstLine) {
  bs_test::NoLeaks leaks;
  int calls = 0;
  std::string first;
  const auto t0 = std::chrono::steady_clock::now();
  // The direct child floods lines and never exits by itself, so only the
  // stop can end the stream (a child that exits right after its first lines
  // may end it by itself before the callback says stop: reason `exited`).
  Result r = run_stream_lines(with_pgid({"flood-out", "forever"}), {.timeout = 30s}, [&](std::string_view l) {
    if (calls++ == 0) first = l;
    return false;
  });
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_EQ(calls, 1) << "a line was delivered after the stop";
  EXPECT_EQ(r.reason, EndReason::cancelled) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.timeout);
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(first, "pgid"))});
}

TEST(RunStreamLines, CallbackExceptionKillsAndPropagates) {
  bs_test::NoLeaks leaks;
  std::string first;
  EXPECT_THROW(run_stream_lines(with_pgid({"sleep-forever"}), {.timeout = 30s},
                                [&](std::string_view l) -> bool {
                                  first = l;
                                  throw std::runtime_error("stop");
                                }),
               std::runtime_error);
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(first, "pgid"))});
}

TEST(RunStreamLines, NotFound) {
  bs_test::NoLeaks leaks;
  EXPECT_THROW(run_stream_lines({"/nonexistent/bs-nope"}, {}, [](std::string_view) { return true; }),
               std::system_error);
  leaks.expect_clean();
}

TEST(RunStreamLines, MemoryLimit) {
  bs_test::NoLeaks leaks;
  std::string first;
  Result r = run_stream_lines(with_pgid({"alloc-mb", "200"}),
                              {.timeout = 30s, .memory_limit_mb = 50, .memory_watchdog_interval = 50ms},
                              [&](std::string_view l) {
                                if (first.empty()) first = l;
                                return true;
                              });
  EXPECT_TRUE(r.memory_limit_exceeded);
  EXPECT_EQ(r.exit_code, -1);
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(first, "pgid"))});
}

}  // namespace
