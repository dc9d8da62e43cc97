// AsyncInteractive: per-operation cancellation, misbehaving children, close
// and destructor semantics (also with operations still pending).
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "async_fixture.hpp"
#include "bounded_subprocess/async_interactive.hpp"
#include "interactive_test_util.hpp"
#include "leak_check.hpp"

using namespace std::chrono_literals;
using bounded_subprocess::AsyncInteractive;
using bs_itest::Clock;
using bs_itest::Line;
using bs_itest::line_of;
using bs_itest::seconds_since;

namespace {
std::string helper() {
  return bs_test::misbehave();
}

// Emits `signal` (terminal cancellation by default) after `delay`.
void cancel_after(asio::io_context& ctx, asio::cancellation_signal& signal, std::chrono::milliseconds delay,
                  asio::cancellation_type type = asio::cancellation_type::terminal) {
  auto timer = std::make_shared<asio::steady_timer>(ctx, delay);
  timer->async_wait([timer, &signal, type](std::error_code) { signal.emit(type); });
}
}  // namespace

TEST_F(AsyncInteractiveCancel, CancelledReadCompletesAbortedAndChildKeepsRunning) {
  asio::cancellation_signal signal;
  pid_t pid;
  std::optional<std::error_code> got;
  double took = -1;
  {
    AsyncInteractive proc(ctx, {"cat"});
    pid = proc.pid();
    const auto t0 = Clock::now();
    proc.async_read_line(30s,
                         asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, std::string l) {
                           got = ec;
                           EXPECT_EQ(l, "");
                           took = seconds_since(t0);
                         }));
    cancel_after(ctx, signal, 50ms);
    run_bounded(ctx);
    EXPECT_EQ(got, std::optional<std::error_code>(asio::error::operation_aborted));
    EXPECT_LT(took, 5.0);            // the cancel, not the 30 s
    EXPECT_TRUE(proc.is_running());  // cancelling a read is not a kill
    // The object still works after a cancelled read.
    ctx.restart();
    auto wrote = proc.async_write("still here\n", 5s, asio::use_future);
    auto line = proc.async_read_line(5s, asio::use_future);
    run_bounded(ctx);
    EXPECT_EQ(wrote.get(), 11u);
    EXPECT_EQ(line.get(), "still here");
    ctx.restart();
    auto code = proc.async_close(5s, asio::use_future);
    run_bounded(ctx);
    EXPECT_EQ(code.get(), 0);
  }
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, CancelledWriteCompletesAbortedPromptly) {
  asio::cancellation_signal signal;
  pid_t pid;
  std::optional<std::error_code> wrote;
  std::size_t written = 0;
  double took = -1;
  {
    AsyncInteractive proc(ctx, {helper(), "sleep-forever"});  // never reads
    pid = proc.pid();
    const auto t0 = Clock::now();
    proc.async_write(std::string(4 << 20, 'z'), 30s,
                     asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, std::size_t n) {
                       wrote = ec;
                       written = n;
                       took = seconds_since(t0);
                     }));
    // Partial cancellation is honoured too.
    cancel_after(ctx, signal, 50ms, asio::cancellation_type::partial);
    run_bounded(ctx);
    EXPECT_EQ(wrote, std::optional<std::error_code>(asio::error::operation_aborted));
    EXPECT_LT(written, std::size_t{4} << 20) << "a prefix at most (the child never reads)";
    EXPECT_LT(took, 5.0);
    EXPECT_TRUE(proc.is_running());
    ctx.restart();
    auto code = proc.async_close(50ms, asio::use_future);
    run_bounded(ctx);
    EXPECT_EQ(code.get(), -9);
  }
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, CancelledCloseKillsAtOnce) {
  asio::cancellation_signal signal;
  pid_t pid;
  std::optional<int> code;
  std::error_code close_ec;
  double took = -1;
  {
    AsyncInteractive proc(ctx, {helper(), "sleep-forever"});  // ignores stdin EOF
    pid = proc.pid();
    const auto t0 = Clock::now();
    proc.async_close(60s, asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, int c) {
                       close_ec = ec;
                       code = c;
                       took = seconds_since(t0);
                     }));
    cancel_after(ctx, signal, 50ms);
    run_bounded(ctx);
    EXPECT_EQ(close_ec, asio::error::operation_aborted);
    EXPECT_EQ(code, std::optional<int>(-9));
    EXPECT_EQ(proc.exit_code(), std::optional<int>(-9));
    EXPECT_LT(took, 5.0);
  }
  leaks.expect_clean({pid});
}

// Only the types an operation can honour: a write may have put a prefix in
// the pipe and a close kills, so neither takes `total` (no side effects);
// each is then ended by a `partial` one sent much later. A read takes every
// type (its bytes stay buffered).
TEST_F(AsyncInteractiveCancel, WriteAndCloseIgnoreTotalCancellation) {
  pid_t pid;
  {
    AsyncInteractive proc(ctx, {helper(), "sleep-forever"});  // never reads, ignores EOF
    pid = proc.pid();
    asio::cancellation_signal write_signal;
    bool partial_sent = false;
    std::optional<std::error_code> wrote;
    bool wrote_after_partial = false;
    proc.async_write(std::string(4 << 20, 'z'), 60s,
                     asio::bind_cancellation_slot(write_signal.slot(), [&](std::error_code ec, std::size_t) {
                       wrote = ec;
                       wrote_after_partial = partial_sent;
                     }));
    cancel_after(ctx, write_signal, 50ms, asio::cancellation_type::total);
    asio::steady_timer partial(ctx, 2s);
    partial.async_wait([&](std::error_code) {
      partial_sent = true;
      write_signal.emit(asio::cancellation_type::partial);
    });
    run_bounded(ctx);
    EXPECT_EQ(wrote, std::optional<std::error_code>(asio::error::operation_aborted));
    EXPECT_TRUE(wrote_after_partial) << "async_write took a total cancellation";

    ctx.restart();
    asio::cancellation_signal close_signal;
    partial_sent = false;
    std::optional<int> code;
    std::error_code close_ec;
    bool closed_after_partial = false;
    proc.async_close(60s, asio::bind_cancellation_slot(close_signal.slot(), [&](std::error_code ec, int c) {
                       close_ec = ec;
                       code = c;
                       closed_after_partial = partial_sent;
                     }));
    cancel_after(ctx, close_signal, 50ms, asio::cancellation_type::total);
    partial.expires_after(2s);
    partial.async_wait([&](std::error_code) {
      partial_sent = true;
      close_signal.emit(asio::cancellation_type::partial);
    });
    run_bounded(ctx);
    EXPECT_EQ(close_ec, asio::error::operation_aborted);
    EXPECT_EQ(code, std::optional<int>(-9));
    EXPECT_TRUE(closed_after_partial) << "async_close took a total cancellation";
  }
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, TotalCancellationEndsARead) {
  asio::cancellation_signal signal;
  pid_t pid;
  std::optional<std::error_code> got;
  {
    AsyncInteractive proc(ctx, {"cat"});
    pid = proc.pid();
    proc.async_read_line(
        30s, asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, std::string) { got = ec; }));
    cancel_after(ctx, signal, 50ms, asio::cancellation_type::total);
    run_bounded(ctx);
    EXPECT_EQ(got, std::optional<std::error_code>(asio::error::operation_aborted));
    ctx.restart();
    auto code = proc.async_close(5s, asio::use_future);
    run_bounded(ctx);
    EXPECT_EQ(code.get(), 0);
  }
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, ChildThatNeverReadsMakesWriteTimeOut) {
  pid_t pid;
  std::optional<std::error_code> wrote;
  double took = -1;
  {
    AsyncInteractive proc(ctx, {helper(), "sleep-forever"});
    pid = proc.pid();
    const auto t0 = Clock::now();
    proc.async_write(std::string(4 << 20, 'x'), 200ms, [&](std::error_code ec, std::size_t) {
      wrote = ec;
      took = seconds_since(t0);
    });
    run_bounded(ctx);
    EXPECT_EQ(wrote, std::optional<std::error_code>(asio::error::timed_out));
    EXPECT_GE(took, 0.2);
    EXPECT_LT(took, 5.0);
    ctx.restart();
    bs_itest::Completed<std::string> line;
    proc.async_read_line(50ms, line.handler());  // never writes either
    run_bounded(ctx);
    EXPECT_EQ(line.ec, std::optional<std::error_code>(asio::error::timed_out));
  }
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, FloodWithoutNewlineStaysBoundedAndLoopStaysResponsive) {
  pid_t pid;
  std::optional<Line> got;
  std::optional<double> timer_fired_at;
  const long rss_before = bs_test::self_rss_kb();
  {
    AsyncInteractive proc(ctx, {helper(), "write-forever-no-newline"});
    pid = proc.pid();
    const auto t0 = Clock::now();
    proc.async_read_line(500ms, [&](std::error_code ec, std::string l) {
      EXPECT_EQ(ec, asio::error::timed_out);
      got = line_of(ec, std::move(l));
    });
    asio::steady_timer timer(ctx, 50ms);
    timer.async_wait([&](std::error_code) { timer_fired_at = seconds_since(t0); });
    run_bounded(ctx);
    ASSERT_TRUE(got.has_value());
    EXPECT_FALSE(got->has_value());
    ASSERT_TRUE(timer_fired_at.has_value());
    EXPECT_LT(*timer_fired_at, 0.45) << "the read starved the event loop";
  }
  EXPECT_LT(bs_test::self_rss_kb() - rss_before, 64 * 1024);
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, ChildDyingWhileWeWriteGivesFalseWithoutSigpipe) {
  const auto before = bs_itest::SignalState::now();
  void* handler = bs_itest::sigpipe_handler();
  pid_t pid, pid2;
  std::optional<std::error_code> w1, w2;
  {
    AsyncInteractive dying(ctx, {helper(), "exit-after-ms", "100", "0"});
    AsyncInteractive closed_stdin(ctx, {helper(), "close-stdin-sleep"});
    pid = dying.pid();
    pid2 = closed_stdin.pid();
    dying.async_write(std::string(8 << 20, 'y'), 30s, [&](std::error_code ec, std::size_t) { w1 = ec; });
    closed_stdin.async_read_line(10s, [&](std::error_code ec, std::string l) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(l, "closed");
      closed_stdin.async_write("data\n", 5s, [&](std::error_code write_ec, std::size_t) { w2 = write_ec; });
    });
    run_bounded(ctx);
    EXPECT_EQ(w1, std::optional<std::error_code>(asio::error::broken_pipe));
    EXPECT_EQ(w2, std::optional<std::error_code>(asio::error::broken_pipe));
    ctx.restart();
    auto c1 = dying.async_close(5s, asio::use_future);
    auto c2 = closed_stdin.async_close(50ms, asio::use_future);
    run_bounded(ctx);
    EXPECT_EQ(c1.get(), 0);
    EXPECT_EQ(c2.get(), -9);
  }
  const auto after = bs_itest::SignalState::now();
  EXPECT_TRUE(before.same_mask(after));
  EXPECT_FALSE(after.sigpipe_pending);
  EXPECT_EQ(bs_itest::sigpipe_handler(), handler);
  leaks.expect_clean({pid, pid2});
}

TEST_F(AsyncInteractiveCancel, ChildDyingRightAfterStart) {
  pid_t pid;
  {
    AsyncInteractive proc(ctx, {helper(), "exit", "3"});
    pid = proc.pid();
    EXPECT_FALSE(bs_test::still_true_after([&] { return proc.is_running(); }, 5000ms));
    bs_itest::Completed<std::size_t> wrote;
    bs_itest::Completed<std::string> line;
    proc.async_write("hello\n", 1s, wrote.handler());
    proc.async_read_line(1s, line.handler());
    run_bounded(ctx);
    EXPECT_EQ(wrote.ec, std::optional<std::error_code>(asio::error::broken_pipe));
    EXPECT_EQ(line.ec, std::optional<std::error_code>(asio::error::eof));
    ctx.restart();
    auto c1 = proc.async_close(1s, asio::use_future);
    run_bounded(ctx);
    EXPECT_EQ(c1.get(), 3);
    ctx.restart();
    auto c2 = proc.async_close(1s, asio::use_future);  // the same code again
    run_bounded(ctx);
    EXPECT_EQ(c2.get(), 3);
  }
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, CloseWithOperationsPendingCompletesThem) {
  pid_t pid;
  std::optional<std::error_code> got;
  std::optional<std::error_code> wrote;
  std::optional<int> code;
  std::optional<std::error_code> late_read;
  {
    AsyncInteractive proc(ctx, {helper(), "sleep-forever"});
    pid = proc.pid();
    proc.async_read_line(30s, [&](std::error_code ec, std::string) { got = ec; });
    proc.async_write(std::string(4 << 20, 'w'), 30s, [&](std::error_code ec, std::size_t) { wrote = ec; });
    asio::steady_timer timer(ctx, 50ms);
    timer.async_wait([&](std::error_code) {
      proc.async_close(100ms, [&](std::error_code, int c) {
        code = c;
        // A read started on the closed object: aborted too.
        proc.async_read_line(30s, [&](std::error_code ec, std::string) { late_read = ec; });
      });
    });
    run_bounded(ctx);
  }
  EXPECT_EQ(got, std::optional<std::error_code>(asio::error::operation_aborted));
  EXPECT_EQ(wrote, std::optional<std::error_code>(asio::error::operation_aborted));
  EXPECT_EQ(late_read, std::optional<std::error_code>(asio::error::operation_aborted));
  EXPECT_EQ(code, std::optional<int>(-9));
  leaks.expect_clean({pid});
}

TEST_F(AsyncInteractiveCancel, DestructorWithOperationsPendingKillsAndReaps) {
  pid_t pid;
  long grandchild = -1;
  std::optional<std::error_code> got;
  std::optional<int> code;
  {
    auto proc =
        std::make_unique<AsyncInteractive>(ctx, std::vector<std::string>{helper(), "fork-grandchild-sleep"});
    pid = proc->pid();
    auto l1 = proc->async_read_line(10s, asio::use_future);  // one read at a time
    run_bounded(ctx);
    ctx.restart();
    auto l2 = proc->async_read_line(10s, asio::use_future);
    run_bounded(ctx);
    EXPECT_NE(l1.get().find("pgid"), std::string::npos);
    grandchild = bs_test::field_after(l2.get(), "grandchild");
    ASSERT_GT(grandchild, 0);
    ctx.restart();
    proc->async_read_line(30s, [&](std::error_code ec, std::string) { got = ec; });
    proc->async_close(30s, [&](std::error_code, int c) { code = c; });
    proc.reset();  // destroyed with a read and a close pending
    EXPECT_FALSE(bs_test::pid_alive(pid)) << "not reaped in the destructor";
    run_bounded(ctx);
  }
  EXPECT_EQ(got, std::optional<std::error_code>(asio::error::operation_aborted));
  EXPECT_TRUE(code.has_value());
  leaks.expect_clean({pid}, {static_cast<pid_t>(grandchild)});
}

TEST(AsyncInteractiveLifetime, DestructorWithoutCloseNoContextRun) {
  bs_test::NoLeaks leaks;
  pid_t pid;
  {
    asio::io_context ctx;
    AsyncInteractive proc(ctx, {helper(), "ignore-sigterm-sleep"});
    pid = proc.pid();
  }
  EXPECT_EQ(bs_test::count_my_zombie_children(), 0);
  EXPECT_FALSE(bs_test::pid_alive(pid)) << "not killed and reaped in the destructor";
  leaks.expect_clean({pid});
}

// A child that ignores EOF on its stdin, SIGTERM and SIGHUP, and whose
// grandchild does too: closing the pipes never ends them. Destroyed with a
// read pending, the object kills the group and reaps the child before its
// destructor returns; the pending read completes without a line.
TEST_F(AsyncInteractiveCancel, DestructorKillsAChildThatIgnoresEofAndSigterm) {
  pid_t pid;
  pid_t grandchild = -1;
  std::optional<std::error_code> got;
  {
    auto proc =
        std::make_unique<AsyncInteractive>(ctx, std::vector<std::string>{helper(), "echo-ignore-eof"});
    pid = proc->pid();
    auto first = proc->async_read_line(10s, asio::use_future);
    run_bounded(ctx);
    grandchild = static_cast<pid_t>(bs_test::field_after(first.get(), "grandchild"));
    ASSERT_GT(grandchild, 0);
    ctx.restart();
    auto wrote = proc->async_write("ping\n", 5s, asio::use_future);
    auto echo = proc->async_read_line(10s, asio::use_future);
    run_bounded(ctx);
    EXPECT_EQ(wrote.get(), 5u);
    EXPECT_EQ(echo.get(), "ping");
    ctx.restart();
    proc->async_read_line(30s, [&](std::error_code ec, std::string) { got = ec; });
    proc.reset();
    EXPECT_FALSE(bs_test::pid_alive(pid)) << "the destructor returned before the child was killed and reaped";
    run_bounded(ctx);
  }
  EXPECT_EQ(got, std::optional<std::error_code>(asio::error::operation_aborted));
  leaks.expect_clean({pid}, {grandchild});
}

namespace {

// One child (a shell loop that echoes each line about 1 ms late) driven
// through a random mix of reads that complete, reads cancelled after a
// random moment and reads with a short timeout, each after one write.
// Every kSyncEvery lines, once every line written so far has been read, one
// more read is cut short (cancelled or timed out) *before* the next write:
// no line can arrive for it, so it must end empty, and the mix is sure to
// cross that edge at least kLines / kSyncEvery times, however the machine's
// load shifts the random ones. Everything it touches runs on the object's
// strand (the handlers' default executor, and the timer's).
struct RandomDriver : std::enable_shared_from_this<RandomDriver> {
  static constexpr int kLines = 60;
  static constexpr int kSyncEvery = 5;

  RandomDriver(asio::io_context& ctx, unsigned seed)
      : proc(ctx.get_executor(), {"sh", "-c", "while read -r l; do sleep 0.001; echo \"$l\"; done"}),
        rng(seed),
        timer(proc.get_executor()) {}

  void step() {
    auto self = shared_from_this();
    if (written < kLines && written % kSyncEvery == 0 && doomed_before != written) {
      if (static_cast<int>(got.size()) < written) {
        // Collect what is still to come, so that nothing can arrive below.
        proc.async_read_line(5s, [self](std::error_code ec, std::string line) {
          const Line l = line_of(ec, std::move(line));
          if (!l) {
            self->errors.push_back("collect: no line");
            return self->close();
          }
          self->got.push_back(*l);
          self->step();
        });
        return;
      }
      doomed_before = written;
      cut_short_read([self](Line l) {
        if (l) self->errors.push_back("a line came before it was written: " + *l);
        ++self->doomed_reads;
        ++self->empty_reads;
        self->step();
      });
      return;
    }
    if (written < kLines) {
      const std::string text = "line " + std::to_string(written);
      proc.async_write(text + "\n", 5s, [self](std::error_code ec, std::size_t) {
        if (ec) self->errors.push_back("write failed: " + ec.message());
        ++self->written;
        self->read_some_way();
      });
    } else if (static_cast<int>(got.size()) < kLines) {
      proc.async_read_line(5s, [self](std::error_code ec, std::string line) {
        const Line l = line_of(ec, std::move(line));
        if (!l) {
          self->errors.push_back("drain: no line");
          return self->close();
        }
        self->got.push_back(*l);
        self->step();
      });
    } else {
      close();
    }
  }

  // A read cancelled within 3 ms, or with a timeout of 0, 1 or 2 ms (the
  // echo takes a little over 1 ms).
  template <class Handler>
  void cut_short_read(Handler handler) {
    auto self = shared_from_this();
    const bool cancel = pick(2) == 0;
    const bounded_subprocess::Seconds timeout =
        cancel ? bounded_subprocess::Seconds(5) : bounded_subprocess::Seconds(1e-3 * pick(3));
    proc.async_read_line(
        timeout,
        asio::bind_cancellation_slot(signal.slot(), [self, handler](std::error_code ec, std::string l) {
          self->timer.cancel();
          // Cut short: cancelled or timed out, nothing else.
          if (ec && ec != asio::error::operation_aborted && ec != asio::error::timed_out)
            self->errors.push_back("cut short with " + ec.message());
          handler(line_of(ec, std::move(l)));
        }));
    if (cancel) {
      timer.expires_after(std::chrono::microseconds(pick(3000)));
      timer.async_wait([self](std::error_code ec) {
        if (!ec) self->signal.emit(asio::cancellation_type::terminal);
      });
    }
  }

  void read_some_way() {
    auto self = shared_from_this();
    auto done = [self](Line l) {
      ++self->reads;
      if (l) {
        self->got.push_back(*l);
      } else {
        ++self->empty_reads;  // cancelled or timed out
      }
      self->step();
    };
    // 0: a read that gets its line; otherwise one cut short.
    if (pick(3) == 0) {
      proc.async_read_line(5s,
                           [done](std::error_code ec, std::string l) { done(line_of(ec, std::move(l))); });
    } else {
      cut_short_read(done);
    }
  }

  unsigned pick(unsigned n) { return static_cast<unsigned>(rng() % n); }

  void close() {
    auto self = shared_from_this();
    proc.async_close(5s, [self](std::error_code, int code) { self->closed.set_value(code); });
  }

  AsyncInteractive proc;
  std::mt19937 rng;
  asio::steady_timer timer;
  asio::cancellation_signal signal;
  int written = 0;
  int doomed_before = -1;  // the line before which a read was cut short last
  int reads = 0;           // reads after a write
  int empty_reads = 0;     // reads that ended without a line (cut short)
  int doomed_reads = 0;    // reads cut short with no line to come
  std::vector<std::string> got;
  std::vector<std::string> errors;
  std::promise<int> closed;
};

}  // namespace

// Many objects on a 3-thread context, reads cancelled or timed out at
// random moments: nothing hangs, every object closes cleanly, and no line
// is lost or reordered (a cancelled or timed-out read leaves what it had
// read buffered for the next one).
TEST_F(AsyncInteractiveCancel, RandomCancellationsLoseNoLineAndNeverHang) {
  constexpr int kObjects = 8;
  std::vector<std::shared_ptr<RandomDriver>> drivers;
  std::vector<pid_t> pids;
  for (int i = 0; i < kObjects; ++i) {
    drivers.push_back(std::make_shared<RandomDriver>(ctx, 1234u + static_cast<unsigned>(i)));
    pids.push_back(drivers.back()->proc.pid());
  }
  std::vector<std::future<int>> codes;
  for (auto& d : drivers) {
    codes.push_back(d->closed.get_future());
    asio::post(d->proc.get_executor(), [d] { d->step(); });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back([this] { ctx.run_for(60s); });
  for (int i = 0; i < kObjects; ++i) {
    ASSERT_EQ(codes[static_cast<std::size_t>(i)].wait_for(60s), std::future_status::ready) << "object " << i;
    EXPECT_EQ(codes[static_cast<std::size_t>(i)].get(), 0) << "object " << i;
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(ctx.stopped());
  std::vector<std::string> expected;
  for (int n = 0; n < RandomDriver::kLines; ++n) expected.push_back("line " + std::to_string(n));
  int empty_reads = 0;
  for (int i = 0; i < kObjects; ++i) {
    const auto& d = *drivers[static_cast<std::size_t>(i)];
    empty_reads += d.empty_reads;
    EXPECT_TRUE(d.errors.empty()) << "object " << i << ": " << d.errors.front();
    EXPECT_EQ(d.got, expected) << "object " << i;
    EXPECT_EQ(d.reads, RandomDriver::kLines) << "object " << i;
    // Every kSyncEvery lines a read was cut short with no line to come.
    EXPECT_EQ(d.doomed_reads, RandomDriver::kLines / RandomDriver::kSyncEvery) << "object " << i;
  }
  // The mix really cut reads short, so the lines above crossed those ends:
  // by construction at least the reads cut short before a write did.
  EXPECT_GT(empty_reads, kObjects * RandomDriver::kLines / 10);
  std::printf("random mix: %d of %d reads ended without a line (%d of them before a write)\n", empty_reads,
              kObjects * (RandomDriver::kLines + RandomDriver::kLines / RandomDriver::kSyncEvery),
              kObjects * RandomDriver::kLines / RandomDriver::kSyncEvery);
  drivers.clear();
  leaks.expect_clean(pids);
}
