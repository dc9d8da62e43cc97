// Nothing escapes: each escape a hostile program tries (setsid, setpgid, a
// double-forked daemon, an escapee holding stdout, one that stops itself,
// one that blocks every signal, 50 in a loop), through every entry point, under
// every mechanism this machine offers, at each way a run ends. Checked from
// outside: the test process is a child subreaper and looks for any live
// descendant once the call has returned.
#include <bounded_subprocess/async.hpp>
#include <bounded_subprocess/async_interactive.hpp>
#include <bounded_subprocess/interactive.hpp>
#include <bounded_subprocess/run.hpp>
#include <bounded_subprocess/stream.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <future>
#include <optional>

#include "containment_test_util.hpp"

namespace {

using namespace bs_containment;
using namespace std::chrono_literals;

// How many "escaped PID" lines the helper prints for `escape`.
std::size_t escapees(const std::vector<std::string>& escape) {
  return escape[0] == "loop" ? std::stoul(escape[1]) : 1;
}

// Every (mechanism, escape) pair, with a label for the failure messages.
template <class F>
void for_each_case(F f) {
  for (bs::Containment c : mechanisms()) {
    for (const auto& escape : escapes()) {
      const std::string label = std::string(bs::to_string(c)) + " / " + name(escape);
      SCOPED_TRACE(label);
      f(c, escape, label);
    }
  }
}

TEST(Escape, RunEndsAtTheChildsExit) {
  for_each_case([](bs::Containment c, const auto& escape, const std::string& label) {
    bs::Result r = bs::run(escape_argv(escape, "exit"), {.timeout = 20s, .containment = c});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.containment, c);
    EXPECT_NE(r.out.data.find("escaped"), std::string::npos) << r.out.data;
    EXPECT_LT(r.elapsed.count(), 15.0) << "an escapee held the run open";
    expect_contained(c, label);
  });
}

TEST(Escape, RunEndsAtTheDeadline) {
  for_each_case([](bs::Containment c, const auto& escape, const std::string& label) {
    bs::Result r = bs::run(escape_argv(escape, "sleep"), {.timeout = 0.3s, .containment = c});
    EXPECT_TRUE(r.timeout) << r;
    expect_contained(c, label);
  });
}

TEST(Escape, MemoryKillCountsTheEscapee) {
  // The escapee allocates past the limit; the direct child stays small.
  for (bs::Containment c : mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    // Contained, only the watchdog can end it (60 s: a bound that catches a
    // hang); with process_group only the deadline can.
    const bs::Seconds timeout = c == bs::Containment::process_group ? bs::Seconds(5) : bs::Seconds(60);
    bs::Result r = bs::run(
        {bs_test::misbehave(), "escape", "alloc-mb", "200", "sleep"},
        {.timeout = timeout, .memory_limit_mb = 100, .memory_watchdog_interval = 20ms, .containment = c});
    if (c == bs::Containment::process_group) {
      // The watchdog sums the group: the escapee is not in it.
      EXPECT_TRUE(r.timeout) << r;
    } else {
      EXPECT_TRUE(r.memory_limit_exceeded) << r;
      EXPECT_EQ(r.reason, bs::EndReason::memory_limit) << r;
    }
    expect_contained(c, std::string(bs::to_string(c)));
  }
}

TEST(Escape, AsyncRunEndsAtExitAndAtCancellation) {
  for_each_case([](bs::Containment c, const auto& escape, const std::string& label) {
    asio::io_context io;
    auto done =
        bs::async_run(io, escape_argv(escape, "exit"), {.timeout = 20s, .containment = c}, asio::use_future);
    io.run();
    EXPECT_EQ(done.get().exit_code, 0);
    expect_contained(c, label + " (exit)");

    io.restart();
    asio::cancellation_signal cancel;
    std::optional<std::error_code> ec;
    bs::Result result;
    bs::async_run(io, escape_argv(escape, "sleep"), {.timeout = 20s, .containment = c},
                  asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code e, bs::Result r) {
                    ec = e;
                    result = std::move(r);
                  }));
    asio::steady_timer timer(io, 200ms);
    timer.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
    io.run();
    EXPECT_EQ(ec, std::optional<std::error_code>(asio::error::operation_aborted));
    EXPECT_EQ(result.reason, bs::EndReason::cancelled);
    expect_contained(c, label + " (cancelled)");
  });
}

TEST(Escape, LineStreamsEndAtExitAndWhenStopped) {
  for_each_case([](bs::Containment c, const auto& escape, const std::string& label) {
    int lines = 0;
    bs::Result r = bs::run_stream_lines(escape_argv(escape, "exit"), {.timeout = 20s, .containment = c},
                                        [&](std::string_view) { return ++lines, true; });
    EXPECT_EQ(r.exit_code, 0) << r;
    expect_contained(c, label + " (sync, exit)");

    r = bs::run_stream_lines(escape_argv(escape, "sleep"), {.timeout = 20s, .containment = c},
                             [](std::string_view) { return false; });  // stop at the first line
    EXPECT_EQ(r.reason, bs::EndReason::cancelled) << r;
    expect_contained(c, label + " (sync, stopped)");

    asio::io_context io;
    {
      auto stream = bs::open_line_stream(io.get_executor(), escape_argv(escape, "sleep"),
                                         {.timeout = 20s, .containment = c});
      std::optional<std::string> first;
      stream.async_next([&](std::error_code ec, std::string line) {
        if (!ec) first = std::move(line);
        io.stop();  // the stream would go on until its deadline
      });
      io.run();
      EXPECT_TRUE(first.has_value());
    }  // destroyed mid-stream
    expect_contained(c, label + " (async, destroyed)");
  });
}

TEST(Escape, InteractiveEndsAtCloseAndDestruction) {
  for_each_case([](bs::Containment c, const auto& escape, const std::string& label) {
    {
      bs::Interactive proc(escape_argv(escape, "sleep"), {.containment = c});
      // "escaped PID" for each: every escapee is out, the child sleeps.
      for (std::size_t i = 0; i < escapees(escape); ++i) EXPECT_TRUE(proc.read_line(20s).has_value());
      EXPECT_EQ(proc.close(0.05s), -9);
    }
    expect_contained(c, label + " (close)");
    {
      bs::Interactive proc(escape_argv(escape, "sleep"), {.containment = c});
      for (std::size_t i = 0; i < escapees(escape); ++i) EXPECT_TRUE(proc.read_line(20s).has_value());
    }  // destroyed
    expect_contained(c, label + " (destroyed)");
  });
}

TEST(Escape, AsyncInteractiveEndsAtCloseAndDestruction) {
  for_each_case([](bs::Containment c, const auto& escape, const std::string& label) {
    asio::io_context io;
    {
      bs::AsyncInteractive proc(io, escape_argv(escape, "sleep"), {.containment = c});
      for (std::size_t i = 0; i < escapees(escape); ++i) {
        auto line = proc.async_read_line(20s, asio::use_future);
        io.restart();
        io.run();
        EXPECT_NO_THROW(line.get()) << "no line";
      }
      io.restart();
      auto code = proc.async_close(0.05s, asio::use_future);
      io.run();
      EXPECT_EQ(code.get(), -9);
    }
    expect_contained(c, label + " (close)");
    io.restart();
    {
      bs::AsyncInteractive proc(io, escape_argv(escape, "sleep"), {.containment = c});
      auto line = proc.async_read_line(20s, asio::use_future);
      io.run();
      EXPECT_NO_THROW(line.get()) << "no line";
    }  // destroyed (escapees possibly still starting: all must die)
    expect_contained(c, label + " (destroyed)");
  });
}

}  // namespace
