// async_run in a container (Options::container) against real podman: the same results as the sync entry
// point, cancellation and timeouts remove the container before completion, and a dying io_context still
// leaves nothing behind.
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "bounded_subprocess/async.hpp"
#include "podman_test_support.hpp"

namespace {

using namespace bs_podman_test;
using PodmanAsyncTest = PodmanTest;

TEST_F(PodmanAsyncTest, CatEchoesStdin) {
  asio::io_context io;
  auto o = options();
  o.stdin_data = "async hello\n";
  std::optional<bs::Result> result;
  bs::async_run(io, {"cat"}, o, [&](std::error_code e, bs::Result r) {
    EXPECT_FALSE(e);
    result = std::move(r);
  });
  io.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->exit_code, 0) << result->err.data;
  EXPECT_EQ(result->out.data, "async hello\n");
  expect_container_gone();  // completion came after the cleanup
}

TEST_F(PodmanAsyncTest, UseFutureOnAnIoThread) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread t([&] { io.run(); });
  auto o = options();
  o.env = bs::Environment{{"GREETING", "from future"}};
  auto f = bs::async_run(io.get_executor(), {"sh", "-c", "echo $GREETING"}, o, asio::use_future);
  bs::Result r = f.get();
  guard.reset();
  t.join();
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "from future\n");
}

TEST_F(PodmanAsyncTest, TimeoutRemovesTheContainerBeforeCompletion) {
  asio::io_context io;
  auto o = options();
  o.timeout = 10s;  // room for podman to start the container on a loaded machine
  std::optional<bs::Result> result;
  bs::async_run(io, {"sh", "-c", "echo started; exec bs_misbehave sleep-forever"}, o,
                [&](std::error_code e, bs::Result r) {
                  EXPECT_FALSE(e);
                  result = std::move(r);
                });
  io.run();
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->timeout);
  EXPECT_EQ(result->out.data, "started\n");
  EXPECT_LT(result->elapsed.count(), 10.0 + 10.0)
      << "container not gone within cleanup_timeout (10 s) of the deadline";
  expect_container_gone();  // the full check (fds) is in TearDown
}

TEST_F(PodmanAsyncTest, CancellationKillsTheClientAndRemovesTheContainer) {
  asio::io_context io;
  asio::cancellation_signal signal;
  std::optional<bs::Result> result;
  bs::async_run(io, {"sh", "-c", "echo started; exec bs_misbehave sleep-forever"}, options(),
                asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e, bs::Result r) {
                  EXPECT_EQ(e, asio::error::operation_aborted);
                  result = std::move(r);
                }));
  asio::steady_timer timer(io, 3s);
  timer.async_wait([&](std::error_code) { signal.emit(asio::cancellation_type::terminal); });
  io.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->reason, bs::EndReason::cancelled);
  EXPECT_EQ(result->exit_code, -1);
  EXPECT_FALSE(result->timeout);
  EXPECT_LT(result->elapsed.count(), 40.0) << "cancellation did not stop the run";
  expect_container_gone();  // the full check (fds) is in TearDown
}

// Every cancellation type reaches the client, not only terminal (a composed
// operation's default filter would pass terminal alone).
TEST_F(PodmanAsyncTest, CancellationRightAwayIsNotLost) {
  for (const auto type : {asio::cancellation_type::terminal, asio::cancellation_type::total}) {
    SCOPED_TRACE(static_cast<int>(type));
    asio::io_context io;
    asio::cancellation_signal signal;
    std::optional<bs::Result> result;
    bs::async_run(io, {"bs_misbehave", "sleep-forever"}, options(),
                  asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e, bs::Result r) {
                    EXPECT_EQ(e, asio::error::operation_aborted);
                    result = std::move(r);
                  }));
    signal.emit(type);
    io.run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, bs::EndReason::cancelled);
    EXPECT_LT(result->elapsed.count(), 40.0);
    expect_container_gone();  // the full check (fds) is in TearDown
  }
}

// A cancellation that arrives while the container is being removed is
// ignored: the cleanup runs to its end and the run's own outcome stands.
// The cleanup is made slow by a wrapper (podman, except that its `rm` first
// leaves a mark, then sleeps two seconds: room for the test's 20 ms polls
// on a loaded machine); the test cancels once the mark is there.
TEST_F(PodmanAsyncTest, CancellationDuringTheCleanupIsIgnored) {
  const std::string wrapper =
      std::string(BS_PODMAN_SCRATCH) + "/podman-rm-slow-" + std::to_string(::getpid());
  const std::string mark = wrapper + ".rm-started";
  std::filesystem::remove(mark);
  {
    std::ofstream f(wrapper);
    f << "#!/bin/sh\nif [ \"$1\" = rm ]; then : > '" << mark << "'; sleep 2; fi\nexec podman \"$@\"\n";
  }
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  asio::io_context io;
  auto o = options();
  o.container->podman_path = wrapper;
  asio::cancellation_signal signal;
  std::optional<std::error_code> ec;
  bs::Result result;
  bs::async_run(io, {"echo", "kept"}, o,
                asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e, bs::Result r) {
                  ec = e;
                  result = std::move(r);
                }));
  // Test-side polling for the mark (the library waits on events).
  asio::steady_timer poll(io);
  int polls = 0;
  bool emitted = false;
  std::function<void()> wait_for_mark = [&] {
    poll.expires_after(20ms);
    poll.async_wait([&](std::error_code e) {
      if (e || ec) return;
      if (std::filesystem::exists(mark)) {
        emitted = true;
        signal.emit(asio::cancellation_type::terminal);
      } else if (++polls < 3000) {
        wait_for_mark();
      }
    });
  };
  wait_for_mark();
  io.run();
  EXPECT_TRUE(emitted) << "the cleanup never started, or ended before the test saw it start";
  EXPECT_EQ(ec, std::optional<std::error_code>(std::error_code())) << (ec ? ec->message() : "no completion");
  EXPECT_EQ(result.reason, bs::EndReason::exited);
  EXPECT_EQ(result.exit_code, 0) << result.err.data;
  EXPECT_EQ(result.out.data, "kept\n");
  EXPECT_EQ(result.cleanup_error, "");
  std::filesystem::remove(mark);
  std::filesystem::remove(wrapper);
}

TEST_F(PodmanAsyncTest, MissingImageAndMissingPodman) {
  asio::io_context io;
  auto o = options();
  o.container->image = "localhost/bounded-subprocess-no-such-image:latest";
  o.container->podman_args = {"--pull=never"};
  std::optional<bs::Result> missing_image;
  bs::async_run(io, {"true"}, o, [&](std::error_code e, bs::Result r) {
    EXPECT_FALSE(e);
    missing_image = std::move(r);
  });
  auto p = options();
  p.container->podman_path = "/nonexistent/podman-missing";
  bool called = false;
  try {
    bs::async_run(io, {"true"}, p, [&](std::error_code, bs::Result) { called = true; });
    ADD_FAILURE() << "no SpawnError";
  } catch (const bs::SpawnError& e) {
    EXPECT_NE(std::string(e.what()).find("podman-missing"), std::string::npos) << e.what();
  }
  io.run();
  EXPECT_FALSE(called);
  ASSERT_TRUE(missing_image);
  EXPECT_EQ(missing_image->exit_code, 125);
  EXPECT_NE(missing_image->err.data.find("no-such-image"), std::string::npos);
}

// async_run of `echo kept` with `o`, to its completion.
std::pair<std::error_code, bs::Result> run_echo_kept(const bs::Options& o) {
  asio::io_context io;
  std::pair<std::error_code, bs::Result> outcome{bs::errc::internal_error, {}};
  bs::async_run(io, {"echo", "kept"}, o, [&](std::error_code e, bs::Result r) {
    outcome = {e, std::move(r)};
  });
  io.run();
  return outcome;
}

// A container that cannot be removed: the run's Result still comes, with
// errc::cleanup_failed and podman's message in Result::cleanup_error. The
// failure is injected by a wrapper that is podman except that its `rm`
// refuses (twice: the library tries a refused cleanup once more); the test
// then removes the container itself.
TEST_F(PodmanAsyncTest, FailedCleanupIsAnErrorCodeWithTheResultAndPodmansMessage) {
  RmRefusingPodman refuses(-1);
  auto o = options();
  o.container->podman_path = refuses.path();
  const auto [ec, result] = run_echo_kept(o);
  EXPECT_EQ(ec, bs::errc::cleanup_failed);
  EXPECT_EQ(result.exit_code, 0) << result.err.data;
  EXPECT_EQ(result.out.data, "kept\n");
  EXPECT_NE(result.cleanup_error.find("injected: device or resource busy"), std::string::npos)
      << result.cleanup_error;
  EXPECT_EQ(refuses.rm_calls(), 2);
  remove_my_containers();
}

// podman 4.3 refuses a `podman rm` now and then under load while the
// client's own --rm cleanup holds the container: one refusal is tried
// again, and the run is not reported as a failed cleanup.
TEST_F(PodmanAsyncTest, OneRefusedCleanupIsTriedAgain) {
  RmRefusingPodman refuses_once(1);
  auto o = options();
  o.container->podman_path = refuses_once.path();
  const auto [ec, result] = run_echo_kept(o);
  EXPECT_EQ(ec, std::error_code()) << result.cleanup_error;
  EXPECT_EQ(result.out.data, "kept\n");
  EXPECT_EQ(result.cleanup_error, "");
  EXPECT_EQ(refuses_once.rm_calls(), 2);
  expect_container_gone();
}

TEST_F(PodmanAsyncTest, BadInputThrowsFromTheCall) {
  asio::io_context io;
  auto o = options();
  o.container->image.clear();
  EXPECT_THROW(bs::async_run(io, {"true"}, o, [](std::error_code, bs::Result) {}), std::invalid_argument);
  EXPECT_THROW(bs::async_run(io, {}, options(), [](std::error_code, bs::Result) {}), std::invalid_argument);
  EXPECT_EQ(io.run(), 0u);
}

TEST_F(PodmanAsyncTest, DyingIoContextStillRemovesTheContainer) {
  auto io = std::make_unique<asio::io_context>();
  bool called = false;
  bs::async_run(*io, {"bs_misbehave", "sleep-forever"}, options(),
                [&](std::error_code, bs::Result) { called = true; });
  // Let the client start and create its container, then drop everything.
  auto timer = std::make_unique<asio::steady_timer>(*io, 3s);
  timer->async_wait([&](std::error_code) { io->stop(); });
  io->run();
  timer.reset();
  io.reset();
  EXPECT_FALSE(called);
  expect_clean();
}

}  // namespace
