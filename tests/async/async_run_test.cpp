// async_run: the run contract through Asio, and every completion token kind.
#include <asio/bind_allocator.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "async_test_util.hpp"

namespace {

using namespace bs_async_test;
using namespace std::chrono_literals;

const std::string kMissing = "/nonexistent/bs-no-such-program";

TEST(AsyncRun, CapturesStdoutStderrAndExitCode) {
  bs_test::NoLeaks leaks;
  Result r = run_async(misbehave({"out-err", "hello", "oops"}));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.reason, EndReason::exited);
  EXPECT_EQ(r.out.data, "hello");
  EXPECT_EQ(r.err.data, "oops");
  EXPECT_FALSE(r.timeout);
  leaks.expect_clean();
}

TEST(AsyncRun, ExitCodeAndSignal) {
  bs_test::NoLeaks leaks;
  EXPECT_EQ(run_async(misbehave({"exit", "7"})).exit_code, 7);
  Result k = run_async(misbehave({"kill-self", "9"}));
  EXPECT_EQ(k.exit_code, -9);
  EXPECT_EQ(k.reason, EndReason::signaled);
  EXPECT_EQ(k.term_signal, 9);
  leaks.expect_clean();
}

TEST(AsyncRun, TimeoutKillsTheGroup) {
  bs_test::NoLeaks leaks;
  const auto t0 = std::chrono::steady_clock::now();
  // (A deadline that leaves a loaded machine time to print the pgid.)
  Result r = run_async(with_pgid({"sleep-forever"}), {.timeout = 1s});
  EXPECT_LT(seconds_since(t0), 5.0);
  EXPECT_TRUE(r.timeout);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.reason, EndReason::timeout);
  EXPECT_GE(r.elapsed.count(), 0.99);
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"))});
}

TEST(AsyncRun, GrandchildHoldingPipesDoesNotDelayTheEnd) {
  bs_test::NoLeaks leaks;
  const auto t0 = std::chrono::steady_clock::now();
  Result r = run_async(with_pgid({"fork-grandchild-sleep"}), {.timeout = 20s});
  EXPECT_LT(seconds_since(t0), 5.0) << "the run waited for the grandchild";
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.exit_code, 0);
  const auto grandchild = static_cast<pid_t>(bs_test::field_after(r.out.data, "grandchild"));
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"))}, {grandchild});
}

TEST(AsyncRun, GrandchildFloodingIsKilled) {
  bs_test::NoLeaks leaks;
  Result r = run_async(with_pgid({"fork-grandchild-flood"}), {.timeout = 20s, .max_output_size = 4096});
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.exit_code, 0);
  leaks.expect_clean({static_cast<pid_t>(bs_test::field_after(r.out.data, "pgid"))});
}

TEST(AsyncRun, FloodIsBoundedPrefixAndTail) {
  bs_test::NoLeaks leaks;
  const unsigned long long n = 20ull * 1024 * 1024;
  Result head =
      run_async(misbehave({"flood-out", std::to_string(n)}), {.timeout = 90s, .max_output_size = 1000});
  EXPECT_EQ(head.exit_code, 0);
  EXPECT_EQ(head.out.data, bs_test::misbehave_pattern(0, 1000));
  EXPECT_TRUE(head.out.truncated);
  EXPECT_EQ(head.out.total_bytes, n);
  Result tail = run_async(misbehave({"flood-err", std::to_string(n)}),
                          {.timeout = 90s, .max_output_size = 1000, .tail = true});
  EXPECT_EQ(tail.err.data, bs_test::misbehave_pattern(n - 1000, 1000));
  EXPECT_EQ(tail.err.total_bytes, n);
  leaks.expect_clean();
}

TEST(AsyncRun, StdinEcho) {
  bs_test::NoLeaks leaks;
  Result r = run_async(misbehave({"echo-stdin"}), {.stdin_data = std::string("abc\ndef\n")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.data, "abc\ndef\n");
  EXPECT_FALSE(r.stdin_write_failed);
  leaks.expect_clean();
}

TEST(AsyncRun, BigStdinAndBigStdoutDoNotDeadlock) {
  bs_test::NoLeaks leaks;
  const std::string data = bs_test::misbehave_pattern(0, 8 * 1024 * 1024);
  const auto t0 = std::chrono::steady_clock::now();
  Result r = run_async(misbehave({"echo-stdin"}),
                       {.timeout = 90s, .max_output_size = data.size(), .stdin_data = data});
  EXPECT_LT(seconds_since(t0), 90.0);
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.total_bytes, data.size());
  EXPECT_TRUE(r.out.data == data) << "echoed bytes differ";
  leaks.expect_clean();
}

TEST(AsyncRun, StdinTimeoutMarksFailureEvenIfChildExitsZero) {
  bs_test::NoLeaks leaks;
  // The child reads nothing until its stdin is closed (or 60 s have passed),
  // then reads what there is and exits 0 by itself, long before the run's
  // deadline: only the stdin bound can leave the 4 MiB unwritten.
  const std::size_t size = 4 * 1024 * 1024;
  const auto t0 = std::chrono::steady_clock::now();
  Result r = run_async(misbehave({"read-stdin-late", "60000"}),
                       {.timeout = 90s, .stdin_data = std::string(size, 'x'), .stdin_write_timeout = 200ms});
  EXPECT_TRUE(r.stdin_write_failed) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.reason, EndReason::exited) << "the child exited by itself";
  EXPECT_FALSE(r.timeout);
  EXPECT_LT(std::stoull("0" + r.out.data), size) << "the child read all of stdin: " << r.out.data;
  EXPECT_LT(seconds_since(t0), 45.0) << "stdin was not closed at its bound";
  leaks.expect_clean();
}

TEST(AsyncRun, InvalidArgumentIsThrownAtTheCall) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  bool called = false;
  auto handler = [&](std::error_code, Result) { called = true; };
  EXPECT_THROW(async_run(io, {}, {}, handler), std::invalid_argument);
  EXPECT_THROW(async_run(io, {"true"}, {.timeout = 0s}, handler), std::invalid_argument);
  EXPECT_THROW(async_run(io, {std::string("a\0b", 3)}, {}, handler), std::invalid_argument);
  io.run();
  EXPECT_FALSE(called);
  leaks.expect_clean();  // nothing was spawned
}

TEST(AsyncRun, NotFoundIsThrownAtTheCall) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  bool called = false;
  try {
    async_run(io, {kMissing}, {}, [&](std::error_code, Result) { called = true; });
    ADD_FAILURE() << "no SpawnError";
  } catch (const SpawnError& e) {
    EXPECT_NE(std::string(e.what()).find(kMissing), std::string::npos) << e.what();
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_EQ(e.subject(), SpawnError::Subject::program);
    EXPECT_EQ(e.path(), kMissing);
  }
  io.run();
  EXPECT_FALSE(called) << "the handler is destroyed, never called";
  leaks.expect_clean();
}

TEST(AsyncRun, NotFoundLeavesTheCancellationSlotEmpty) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  asio::cancellation_signal signal;
  EXPECT_THROW(async_run(io, {kMissing}, {},
                         asio::bind_cancellation_slot(signal.slot(), [](std::error_code, Result) {})),
               SpawnError);
  EXPECT_FALSE(signal.slot().has_handler());
  signal.emit(asio::cancellation_type::terminal);  // harmless
  io.run();
  leaks.expect_clean();
}

TEST(AsyncRun, UseFuture) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto ok = async_run(io, misbehave({"out-err", "f", ""}), {}, asio::use_future);
  EXPECT_THROW(async_run(io, {kMissing}, {}, asio::use_future), SpawnError);
  io.run();
  EXPECT_EQ(ok.get().out.data, "f");
  leaks.expect_clean();
}

TEST(AsyncRun, UseAwaitable) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  std::string out;
  bool threw = false;
  // (argv built outside the coroutine: g++ 12 mishandles braced string lists
  // in coroutine bodies.)
  const std::vector<std::string> argv = misbehave({"out-err", "co", ""});
  const std::vector<std::string> missing{kMissing};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Result r = co_await async_run(ex, argv, Options{}, asio::use_awaitable);
        out = r.out.data;
        try {
          co_await async_run(ex, missing, Options{}, asio::use_awaitable);
        } catch (const SpawnError&) {
          threw = true;
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(out, "co");
  EXPECT_TRUE(threw);
  leaks.expect_clean();
}

TEST(AsyncRun, Deferred) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  auto op = async_run(io, misbehave({"out-err", "later", ""}), {}, asio::experimental::deferred);
  io.run();  // nothing is supervised yet
  std::string out;
  std::move(op)([&](std::error_code e, Result r) {
    EXPECT_FALSE(e);
    out = r.out.data;
  });
  io.restart();
  io.run();
  EXPECT_EQ(out, "later");
  // The child is started by the call, whatever the token: so is the error.
  EXPECT_THROW(async_run(io, {kMissing}, {}, asio::experimental::deferred), SpawnError);
  // A deferred operation dropped uninitiated kills and reaps its child.
  { auto dropped = async_run(io, {"sleep", "30"}, {}, asio::experimental::deferred); }
  EXPECT_EQ(bs_test::count_my_zombie_children(), 0);
  io.restart();
  io.run();
  leaks.expect_clean();
}

TEST(AsyncRun, HandlerRunsOnItsAssociatedExecutor) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  asio::io_context other;
  bool called = false;
  async_run(io, misbehave({"exit", "0"}), {},
            asio::bind_executor(other, [&](std::error_code, Result) { called = true; }));
  io.run();
  EXPECT_FALSE(called) << "the handler ran outside its associated executor";
  other.run();
  EXPECT_TRUE(called);
  leaks.expect_clean();
}

template <class T>
struct CountingAllocator {
  using value_type = T;
  std::atomic<int>* count;
  explicit CountingAllocator(std::atomic<int>* c) : count(c) {}
  template <class U>
  CountingAllocator(const CountingAllocator<U>& o) : count(o.count) {}
  T* allocate(std::size_t n) {
    ++*count;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) { std::allocator<T>().deallocate(p, n); }
  template <class U>
  bool operator==(const CountingAllocator<U>& o) const {
    return count == o.count;
  }
};

TEST(AsyncRun, UsesTheHandlersAllocator) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  std::atomic<int> count{0};
  bool called = false;
  async_run(
      io, misbehave({"exit", "0"}), {},
      asio::bind_allocator(CountingAllocator<void>(&count), [&](std::error_code, Result) { called = true; }));
  io.run();
  EXPECT_TRUE(called);
  EXPECT_GE(count.load(), 1);
  leaks.expect_clean();
}

TEST(AsyncRun, ConcurrentRunsTakeTheTimeOfTheSlowest) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  int done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    async_run(io, {"sleep", "0.5"}, {}, [&](std::error_code e, Result r) {
      EXPECT_FALSE(e);
      EXPECT_EQ(r.exit_code, 0);
      ++done;
    });
  }
  io.run();
  const double took = seconds_since(t0);
  EXPECT_EQ(done, 20);
  EXPECT_GE(took, 0.45);
  EXPECT_LT(took, 4.0) << "20 runs of sleep 0.5 should overlap (serial would be 10 s)";
  leaks.expect_clean();
}

TEST(AsyncRun, TwoThreadIoContext) {
  asio::io_context io(2);
  warm_up(io);
  bs_test::NoLeaks leaks;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    const std::string word = "w" + std::to_string(i);
    async_run(io, misbehave({"echo-stdin"}), {.stdin_data = word + "\n"},
              [&ok, word](std::error_code e, Result r) {
                if (!e && r.out.data == word + "\n" && r.exit_code == 0 && !r.stdin_write_failed) ++ok;
              });
  }
  std::thread t([&] { io.run(); });
  io.run();
  t.join();
  EXPECT_EQ(ok.load(), 16);
  leaks.expect_clean();
}

TEST(AsyncRun, DestroyingTheContextMidRunKillsAndReaps) {
  bs_test::NoLeaks leaks;
  pid_t pgid = -1;
  bool called = false;
  {
    asio::io_context io;
    // A first run tells us the pid of the second (same shell trick).
    async_run(io, with_pgid({"sleep-forever"}), {.timeout = 30s},
              [&](std::error_code, Result) { called = true; });
    // Run until the child has started and printed its pgid: find it in /proc.
    io.run_for(300ms);
    for (const auto& st : bs_test::all_processes()) {
      if (st.ppid == ::getpid() && st.pid == st.pgrp) pgid = st.pid;
    }
  }
  EXPECT_FALSE(called);
  ASSERT_GT(pgid, 0);
  leaks.expect_clean({pgid});
}

// The entry of the library's own faces (the batch command, Python's
// run_async): a start may fail after the call. Enough runs at once that
// most start cold (the warm pool serves a few directly): every one still
// ends with its program's output, a failure with the call's own exception
// (through `late`, then the completion's code), a cancel or a deadline
// before the start was taken as any run's, and nothing is left.
TEST(AsyncRunLateStart, EveryOutcomeOfManyStartsAtOnce) {
  asio::io_context io;
  warm_up(io);
  bs_test::NoLeaks leaks;
  constexpr int kEach = 16;
  struct Outcome {
    std::error_code ec;
    Result result;
    std::exception_ptr late;
    bool done = false;
  };
  std::vector<Outcome> outcomes(4 * kEach);
  std::vector<std::unique_ptr<asio::cancellation_signal>> cancels;
  for (int i = 0; i < 4 * kEach; ++i) {
    Outcome& o = outcomes[static_cast<std::size_t>(i)];
    std::vector<std::string> argv;
    Options options;
    switch (i % 4) {
      case 0: argv = misbehave({"out-err", "run" + std::to_string(i), ""}); break;
      case 1: argv = {kMissing}; break;
      case 2: argv = misbehave({"sleep-forever"}); break;  // cancelled at once
      case 3:
        argv = misbehave({"sleep-forever"});
        options.timeout = 0.001s;
        break;
    }
    auto done = [&o](std::error_code ec, Result r) {
      o.ec = ec;
      o.result = std::move(r);
      o.done = true;
    };
    auto late = [&o](std::exception_ptr e) { o.late = std::move(e); };
    try {
      if (i % 4 == 2) {
        cancels.push_back(std::make_unique<asio::cancellation_signal>());
        detail::async_run_late_start(io.get_executor(), argv, options, late,
                                     asio::bind_cancellation_slot(cancels.back()->slot(), done));
        cancels.back()->emit(asio::cancellation_type::terminal);
      } else {
        detail::async_run_late_start(io.get_executor(), argv, options, late, done);
      }
    } catch (const SpawnError& e) {  // a warm start fails at the call
      ASSERT_EQ(i % 4, 1) << e.what();
      o.late = std::current_exception();
      o.ec = e.code();
      o.done = true;
    }
  }
  io.run();
  for (int i = 0; i < 4 * kEach; ++i) {
    const Outcome& o = outcomes[static_cast<std::size_t>(i)];
    ASSERT_TRUE(o.done) << "run " << i;
    switch (i % 4) {
      case 0:
        EXPECT_FALSE(o.ec) << o.ec.message();
        EXPECT_EQ(o.result.out.data, "run" + std::to_string(i));
        EXPECT_EQ(o.result.reason, EndReason::exited);
        break;
      case 1:
        EXPECT_EQ(o.ec, std::errc::no_such_file_or_directory) << o.ec.message();
        ASSERT_TRUE(o.late) << "run " << i;
        try {
          std::rethrow_exception(o.late);
        } catch (const SpawnError& e) {
          EXPECT_EQ(e.subject(), SpawnError::Subject::program);
          EXPECT_NE(std::string(e.what()).find(kMissing), std::string::npos) << e.what();
        } catch (...) {
          ADD_FAILURE() << "not a SpawnError";
        }
        break;
      case 2:
        EXPECT_EQ(o.ec, asio::error::operation_aborted) << o.ec.message();
        EXPECT_EQ(o.result.reason, EndReason::cancelled);
        EXPECT_FALSE(o.late);
        break;
      case 3:
        EXPECT_FALSE(o.ec) << o.ec.message();
        EXPECT_EQ(o.result.reason, EndReason::timeout);
        EXPECT_FALSE(o.late);
        break;
    }
  }
  leaks.expect_clean();
}

}  // namespace
