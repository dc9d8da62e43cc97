// async_run cancellation: a cancellation signal (each type) and the
// awaitable operator `||` against a timer. Nothing may be left behind.
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <system_error>
#include <variant>

#include "async_test_util.hpp"

namespace {

using namespace bs_async_test;
using namespace std::chrono_literals;

class AsyncCancel : public ::testing::TestWithParam<asio::cancellation_type_t> {};

TEST_P(AsyncCancel, SignalKillsTheGroupAndCompletesCancelled) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  asio::cancellation_signal signal;
  std::optional<Result> result;
  std::error_code error;
  const auto t0 = std::chrono::steady_clock::now();
  async_run(io, with_pgid({"fork-storm", "2"}), {.timeout = 30s},
            asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e, Result r) {
              error = e;
              result = std::move(r);
            }));
  // Late enough for a loaded machine to have run the storm's forks.
  asio::steady_timer timer(io, 1s);
  timer.async_wait([&](std::error_code) { signal.emit(GetParam()); });
  io.run();
  EXPECT_LT(seconds_since(t0), 10.0);
  ASSERT_TRUE(result);
  EXPECT_EQ(error, asio::error::operation_aborted);
  EXPECT_EQ(result->reason, EndReason::cancelled);
  EXPECT_EQ(result->exit_code, -1);
  EXPECT_FALSE(result->timeout);
  const auto children = bs_test::all_fields_after(result->out.data, "child");
  EXPECT_EQ(children.size(), 2u) << result->out.data;
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(result->out.data, "pgid"))}, children);
}

INSTANTIATE_TEST_SUITE_P(Types, AsyncCancel,
                         ::testing::Values(asio::cancellation_type::terminal,
                                           asio::cancellation_type::partial, asio::cancellation_type::total));

TEST(AsyncCancelOps, SignalAfterCompletionIsHarmless) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  asio::cancellation_signal signal;
  int calls = 0;
  Result result;
  async_run(io, misbehave({"out-err", "x", ""}), {},
            asio::bind_cancellation_slot(signal.slot(), [&](std::error_code, Result r) {
              ++calls;
              result = std::move(r);
            }));
  io.run();
  signal.emit(asio::cancellation_type::terminal);
  io.restart();
  io.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result.reason, EndReason::exited);
  EXPECT_EQ(result.out.data, "x");
  leaks.expect_clean();
}

TEST(AsyncCancelOps, AwaitableOrAgainstATimer) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  std::optional<Result> result;
  bool timer_won = false;
  const auto t0 = std::chrono::steady_clock::now();
  // (argv and options built outside the coroutine: g++ 12 mishandles braced
  // lists in coroutine bodies.)
  const auto argv = with_pgid({"sleep-forever"});
  const Options options{.timeout = 30s};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        asio::steady_timer timer(ex, 300ms);
        auto winner = co_await (async_run(ex, argv, options, asio::use_awaitable) ||
                                timer.async_wait(asio::use_awaitable));
        timer_won = winner.index() == 1;
        if (winner.index() == 0) result = std::get<0>(winner);
      },
      asio::detached);
  io.run();
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_TRUE(timer_won);
  // The cancelled run completed (and the group went) before the || did.
  EXPECT_EQ(bs_test::count_my_zombie_children(), 0);
  leaks.expect_clean();
  for (const auto& st : bs_test::all_processes()) {
    EXPECT_FALSE(st.ppid == ::getpid()) << "child " << st.pid << " left behind";
  }
}

TEST(AsyncCancelOps, AsTupleKeepsTheCodeAndThePartialResult) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  std::error_code ec;
  std::optional<Result> result;
  bool threw = false;
  const auto argv = with_pgid({"sleep-forever"});
  const Options options{.timeout = 30s};
  asio::cancellation_signal signal;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        // Each run is cancelled by a timer armed right before it starts (its
        // slot is in place before the io_context runs the timer's handler).
        asio::steady_timer timer(ex);
        auto cancel_soon = [&] {
          timer.expires_after(300ms);
          timer.async_wait([&](std::error_code) { signal.emit(asio::cancellation_type::terminal); });
        };
        cancel_soon();
        auto [e, r] = co_await async_run(
            ex, argv, options,
            asio::bind_cancellation_slot(signal.slot(), asio::experimental::as_tuple(asio::use_awaitable)));
        ec = e;
        result = std::move(r);
        // The same with use_awaitable alone: the cancellation is thrown.
        try {
          cancel_soon();
          co_await async_run(ex, argv, options,
                             asio::bind_cancellation_slot(signal.slot(), asio::use_awaitable));
        } catch (const std::system_error& err) {
          threw = err.code() == asio::error::operation_aborted;
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(ec, asio::error::operation_aborted);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->reason, EndReason::cancelled);
  EXPECT_EQ(result->exit_code, -1);
  EXPECT_NE(result->out.data.find("pgid"), std::string::npos) << "the output read so far is kept";
  EXPECT_TRUE(threw);
  EXPECT_EQ(bs_test::count_my_zombie_children(), 0);
  leaks.expect_clean();
}

TEST(AsyncCancelOps, AwaitableOrRunWinsWhenFaster) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  std::string out;
  const auto argv = misbehave({"out-err", "fast", ""});
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        asio::steady_timer timer(ex, 20s);
        auto winner = co_await (async_run(ex, argv, Options{}, asio::use_awaitable) ||
                                timer.async_wait(asio::use_awaitable));
        if (winner.index() == 0) out = std::get<0>(winner).out.data;
      },
      asio::detached);
  const auto t0 = std::chrono::steady_clock::now();
  io.run();
  EXPECT_LT(seconds_since(t0), 10.0) << "the timer was not cancelled";
  EXPECT_EQ(out, "fast");
  leaks.expect_clean();
}

}  // namespace
