// The rule of Options: every field is used by every entry point that receives it,
// or rejected there with std::invalid_argument naming the field and the
// entry point, before anything is spawned. One test per rejection rule, each on
// every entry point it applies to; "nothing is spawned" is checked by a program
// (or a fake podman) that would leave a marker file, and by NoLeaks.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "async_test_util.hpp"
#include "bounded_subprocess/async_interactive.hpp"
#include "bounded_subprocess/interactive.hpp"
#include "bounded_subprocess/run.hpp"
#include "bounded_subprocess/stream.hpp"

namespace {

using namespace bs_async_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

enum class FaceId { run, async_run, run_stream_lines, open_line_stream, interactive, async_interactive };

const char* name_of(FaceId face) {
  switch (face) {
    case FaceId::run: return "bounded_subprocess::run";
    case FaceId::async_run: return "bounded_subprocess::async_run";
    case FaceId::run_stream_lines: return "bounded_subprocess::run_stream_lines";
    case FaceId::open_line_stream: return "bounded_subprocess::open_line_stream";
    case FaceId::interactive: return "bounded_subprocess::Interactive";
    case FaceId::async_interactive: return "bounded_subprocess::AsyncInteractive";
  }
  return "";
}

class OptionsRejection : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bs-options-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    marker_ = dir_ + "/spawned";
    // A fake podman: it would only leave the marker.
    fake_podman_ = dir_ + "/podman";
    std::ofstream(fake_podman_) << "#!/bin/sh\ntouch '" << marker_ << "'\n";
    ::chmod(fake_podman_.c_str(), 0755);
    leaks_.emplace();
  }
  void TearDown() override {
    fs::remove_all(dir_);
    leaks_->expect_clean();
  }

  /// A program that leaves the marker if it is ever started.
  std::vector<std::string> argv() const { return {"/bin/sh", "-c", "touch '" + marker_ + "'"}; }

  /// The fake podman as the container's binary.
  Container container() const { return {.image = "localhost/never-pulled", .podman_path = fake_podman_}; }

  /// Calls `face` with `options` and expects the rejection of `field`:
  /// std::invalid_argument naming the field and the entry point, nothing spawned.
  void expect_rejected(FaceId face, const Options& options, const std::string& field) {
    SCOPED_TRACE(std::string(name_of(face)) + " with " + field);
    try {
      call(face, options);
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("'" + field + "'"), std::string::npos) << what;
      EXPECT_NE(what.find(name_of(face)), std::string::npos) << what;
    }
    EXPECT_FALSE(fs::exists(marker_)) << "something was spawned";
  }

  void call(FaceId face, const Options& options) {
    asio::io_context io;
    switch (face) {
      case FaceId::run: run(argv(), options); break;
      case FaceId::async_run:
        async_run(io, argv(), options, [](std::error_code, Result) {});
        io.run();
        break;
      case FaceId::run_stream_lines:
        run_stream_lines(argv(), options, [](std::string_view) { return true; });
        break;
      case FaceId::open_line_stream: {
        auto stream = open_line_stream(io.get_executor(), argv(), options);
        stream.close();
        break;
      }
      case FaceId::interactive: Interactive(argv(), options).close(1s); break;
      case FaceId::async_interactive: {
        AsyncInteractive proc(io, argv(), options);
        break;
      }
    }
  }

  std::string dir_, marker_, fake_podman_;
  std::optional<bs_test::NoLeaks> leaks_;
};

TEST_F(OptionsRejection, MaxLineSizeIsRejectedByTheCapturingFaces) {
  for (FaceId face : {FaceId::run, FaceId::async_run})
    expect_rejected(face, {.max_line_size = 1024}, "max_line_size");
}

TEST_F(OptionsRejection, OnInterruptIsRejectedWhereNoThreadWaitsInPpoll) {
  for (FaceId face :
       {FaceId::async_run, FaceId::run_stream_lines, FaceId::open_line_stream, FaceId::async_interactive})
    expect_rejected(face, {.on_interrupt = [] {}}, "on_interrupt");
}

TEST_F(OptionsRejection, TailFalseIsRejectedByTheLineStreams) {
  for (FaceId face : {FaceId::run_stream_lines, FaceId::open_line_stream})
    expect_rejected(face, {.tail = false}, "tail");
}

TEST_F(OptionsRejection, TheInteractiveFacesRejectTheBoundsOfAWholeRun) {
  for (FaceId face : {FaceId::interactive, FaceId::async_interactive}) {
    expect_rejected(face, {.timeout = 5s}, "timeout");
    expect_rejected(face, {.max_output_size = 10}, "max_output_size");
    expect_rejected(face, {.tail = true}, "tail");
    expect_rejected(face, {.stdin_data = "x"}, "stdin_data");
    expect_rejected(face, {.stdin_write_timeout = 5s}, "stdin_write_timeout");
    expect_rejected(face, {.memory_limit_mb = 100}, "memory_limit_mb");
    expect_rejected(face, {.memory_watchdog_interval = 100ms}, "memory_watchdog_interval");
  }
}

TEST_F(OptionsRejection, TheInteractiveFacesRejectAContainer) {
  for (FaceId face : {FaceId::interactive, FaceId::async_interactive})
    expect_rejected(face, {.container = container()}, "container");
}

TEST_F(OptionsRejection, TheWatchdogIsRejectedWithAContainer) {
  for (FaceId face : {FaceId::run, FaceId::async_run, FaceId::run_stream_lines, FaceId::open_line_stream}) {
    expect_rejected(face, {.memory_limit_mb = 100, .container = container()}, "memory_limit_mb");
    expect_rejected(face, {.memory_watchdog_interval = 100ms, .container = container()},
                    "memory_watchdog_interval");
  }
}

TEST_F(OptionsRejection, TheMessageOfAContainerRejectionPointsToTheCgroupLimit) {
  try {
    run(argv(), {.memory_limit_mb = 100, .container = container()});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cgroup_memory_limit_mb"), std::string::npos) << e.what();
  }
}

// The other side of the rule: what an entry point accepts, it uses.
TEST_F(OptionsRejection, TailTrueIsWhatALineStreamDoes) {
  std::vector<std::string> lines;
  Result r = run_stream_lines({"/bin/sh", "-c", "echo line; printf 0123456789 >&2"},
                              {.max_output_size = 4, .tail = true}, [&](std::string_view l) {
                                lines.emplace_back(l);
                                return true;
                              });
  EXPECT_EQ(lines, std::vector<std::string>{"line"});
  EXPECT_EQ(r.err.data, "6789");
}

TEST_F(OptionsRejection, TheInteractiveFacesUseMaxLineSize) {
  Interactive proc({"/bin/sh", "-c", "echo 0123456789"}, {.max_line_size = 4});
  EXPECT_EQ(proc.read_line(30s), std::optional<std::string>("6789"));
  proc.close(30s);
}

}  // namespace
