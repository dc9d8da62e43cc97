// run_stream_lines (sync callback entry point) and open_line_stream
// (async LineStream) against real podman: lines arrive in full, a stream
// stopped, timed out or destroyed still has its container removed.
#include <asio/error.hpp>
#include <asio/io_context.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "podman_test_support.hpp"

namespace {

using namespace bs_podman_test;

bs::Options stream_options(const std::string& temp_dir) {
  bs::Options o;
  o.timeout = 60s;
  o.container = bs::Container{.image = image(), .temp_dir = temp_dir};
  return o;
}

using PodmanStreamTest = PodmanTest;

TEST_F(PodmanStreamTest, SyncStreamReadsEveryLine) {
  std::vector<std::string> lines;
  auto r = bs::run_stream_lines({"sh", "-c", "printf '%s\\n' one two three; printf four"},
                                stream_options(temp_dir_), [&](std::string_view l) {
                                  lines.emplace_back(l);
                                  return true;
                                });
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three", "four"}));
  EXPECT_EQ(r.out.total_bytes, 18u);
}

TEST_F(PodmanStreamTest, SyncStreamStoppedAfterTheFirstLineRemovesTheContainer) {
  std::vector<std::string> lines;
  auto r = bs::run_stream_lines({"sh", "-c", "echo first; exec bs_misbehave flood-out forever"},
                                stream_options(temp_dir_), [&](std::string_view l) {
                                  lines.emplace_back(l);
                                  return false;
                                });
  EXPECT_EQ(lines, (std::vector<std::string>{"first"}));
  EXPECT_EQ(r.reason, bs::EndReason::cancelled);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(r.elapsed.count(), 30.0);
}

TEST_F(PodmanStreamTest, SyncStreamLongLinesAreCutAndStderrKeepsItsTail) {
  auto o = stream_options(temp_dir_);
  o.max_line_size = 10;
  o.max_output_size = 4;
  std::vector<std::string> lines;
  auto r = bs::run_stream_lines({"sh", "-c", "echo 0123456789abcdef; echo short; echo stderr-tail >&2"}, o,
                                [&](std::string_view l) {
                                  lines.emplace_back(l);
                                  return true;
                                });
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(lines, (std::vector<std::string>{"6789abcdef", "short"}));
  EXPECT_TRUE(r.out.truncated);
  EXPECT_EQ(r.err.data, "ail\n");
}

TEST_F(PodmanStreamTest, SyncStreamTimeoutRemovesTheContainer) {
  auto o = stream_options(temp_dir_);
  o.timeout = 10s;  // room for podman to start the container on a loaded machine
  std::vector<std::string> lines;
  auto r = bs::run_stream_lines({"sh", "-c", "echo started; exec bs_misbehave sleep-forever"}, o,
                                [&](std::string_view l) {
                                  lines.emplace_back(l);
                                  return true;
                                });
  EXPECT_TRUE(r.timeout);
  EXPECT_EQ(lines, (std::vector<std::string>{"started"}));
  EXPECT_LT(r.elapsed.count(), 10.0 + 10.0)
      << "container not gone within cleanup_timeout (10 s) of the deadline";
}

TEST_F(PodmanStreamTest, SyncStreamExceptionFromTheCallbackStillCleansUp) {
  EXPECT_THROW(
      bs::run_stream_lines({"sh", "-c", "echo x; exec bs_misbehave sleep-forever"}, stream_options(temp_dir_),
                           [](std::string_view) -> bool { throw std::runtime_error("callback"); }),
      std::runtime_error);
}

TEST_F(PodmanStreamTest, SyncStreamBadInput) {
  auto o = stream_options(temp_dir_);
  auto ok = [](std::string_view) { return true; };
  EXPECT_THROW(bs::run_stream_lines({}, o, ok), std::invalid_argument);
  o.max_line_size = 0;
  EXPECT_THROW(bs::run_stream_lines({"true"}, o, ok), std::invalid_argument);
  o = stream_options(temp_dir_);
  o.container->image.clear();
  EXPECT_THROW(bs::run_stream_lines({"true"}, o, ok), std::invalid_argument);
}

// Reads every line of `stream` with async_next, calling `on_line` (which may
// close the stream), until the final eof.
void read_all(bs::LineStream& stream, std::vector<std::string>& lines,
              std::function<void(const std::string&)> on_line, bool& ended) {
  stream.async_next([&stream, &lines, &ended, on_line](std::error_code e, std::string line) {
    if (e == asio::error::eof) {
      ended = true;
      return;
    }
    ASSERT_FALSE(e);
    lines.push_back(line);
    on_line(line);
    read_all(stream, lines, on_line, ended);
  });
}

TEST_F(PodmanStreamTest, AsyncStreamReadsEveryLine) {
  asio::io_context io;
  auto stream = bs::open_line_stream(io.get_executor(), {"sh", "-c", "printf '%s\\n' one two three"},
                                     stream_options(temp_dir_));
  std::vector<std::string> lines;
  bool ended = false;
  read_all(
      stream, lines, [](const std::string&) {}, ended);
  io.run();
  EXPECT_TRUE(ended);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  ASSERT_TRUE(stream.finished());
  EXPECT_EQ(stream.result().exit_code, 0) << stream.result().err.data;
  // The end was reported after the cleanup: nothing is left now.
  expect_container_gone();
}

TEST_F(PodmanStreamTest, AsyncStreamClosedAfterTheFirstLineRemovesTheContainer) {
  asio::io_context io;
  auto stream =
      bs::open_line_stream(io.get_executor(), {"sh", "-c", "echo first; exec bs_misbehave flood-out forever"},
                           stream_options(temp_dir_));
  std::vector<std::string> lines;
  bool ended = false;
  read_all(
      stream, lines, [&](const std::string&) { stream.close(); }, ended);
  io.run();
  EXPECT_TRUE(ended);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "first");
  ASSERT_TRUE(stream.finished());
  EXPECT_EQ(stream.result().reason, bs::EndReason::cancelled);
  expect_container_gone();  // the full check (fds) is in TearDown
}

// The stream's end hook tries a refused `podman rm` once more too.
TEST_F(PodmanStreamTest, AsyncStreamTriesARefusedCleanupAgain) {
  RmRefusingPodman refuses_once(1);
  asio::io_context io;
  auto o = options();
  o.container->podman_path = refuses_once.path();
  auto stream = bs::open_line_stream(io.get_executor(), {"echo", "one"}, o);
  std::vector<std::string> lines;
  std::error_code end;
  std::function<void()> next = [&] {
    stream.async_next([&](std::error_code e, std::string line) {
      if (e) {
        end = e;
        return;
      }
      lines.push_back(std::move(line));
      next();
    });
  };
  next();
  io.run();
  EXPECT_EQ(end, asio::error::eof);
  EXPECT_EQ(lines, std::vector<std::string>{"one"});
  EXPECT_EQ(refuses_once.rm_calls(), 2);
  expect_container_gone();
}

// A cleanup refused twice comes with the stream's Result, as for `run`.
TEST_F(PodmanStreamTest, SyncStreamReportsAFailedCleanupInItsResult) {
  RmRefusingPodman refuses(-1);
  auto o = options();
  o.container->podman_path = refuses.path();
  std::vector<std::string> lines;
  const bs::Result r = bs::run_stream_lines({"echo", "one"}, o, [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  EXPECT_EQ(lines, std::vector<std::string>{"one"});
  EXPECT_NE(r.cleanup_error.find("injected: device or resource busy"), std::string::npos)
      << "not reported: " << r.cleanup_error;
  EXPECT_EQ(refuses.rm_calls(), 2);
  remove_my_containers();
}

TEST_F(PodmanStreamTest, AsyncStreamDestroyedStillRemovesTheContainer) {
  asio::io_context io;
  std::optional<bs::LineStream> stream =
      bs::open_line_stream(io.get_executor(), {"sh", "-c", "echo first; exec bs_misbehave sleep-forever"},
                           stream_options(temp_dir_));
  std::optional<std::string> first;
  stream->async_next([&](std::error_code e, std::string line) {
    EXPECT_FALSE(e);
    if (!e) first = line;
    stream.reset();  // destroyed mid-stream: the cleanup runs on the io_context
  });
  io.run();  // returns once the cleanup's async_run is done
  EXPECT_EQ(first, std::optional<std::string>("first"));
  EXPECT_FALSE(stream.has_value());
  expect_container_gone();  // the full check (fds) is in TearDown
}

TEST_F(PodmanStreamTest, AsyncStreamWhoseContextDiesIsCleanedUpSynchronously) {
  auto io = std::make_unique<asio::io_context>();
  std::optional<bs::LineStream> stream =
      bs::open_line_stream(io->get_executor(), {"sh", "-c", "echo first; exec bs_misbehave sleep-forever"},
                           stream_options(temp_dir_));
  std::optional<std::string> first;
  stream->async_next([&](std::error_code e, std::string line) {
    if (!e) first = line;
    io->stop();
  });
  io->run();
  EXPECT_EQ(first, std::optional<std::string>("first"));
  // Neither the stream's end nor the cleanup can run on this context now.
  stream.reset();
  io.reset();
  expect_clean();
}

TEST_F(PodmanStreamTest, AsyncStreamMissingPodmanIsASystemError) {
  asio::io_context io;
  auto o = stream_options(temp_dir_);
  o.container->podman_path = "/nonexistent/podman-missing";
  try {
    auto s = bs::open_line_stream(io.get_executor(), {"true"}, o);
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("podman-missing"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

// conmon copies a container's output into a log file on the host unless
// the log driver is none: a flooding container would fill the disk.
TEST_F(PodmanStreamTest, ContainerOutputIsNotLoggedOnTheHost) {
  const std::string label =
      "bs_logtest=" + std::to_string(::getpid()) + "-" + temp_dir_.substr(temp_dir_.rfind('/') + 1);
  auto o = stream_options(temp_dir_);
  o.container->podman_args = {"--label", label};
  std::string driver;
  auto r = bs::run_stream_lines({"sh", "-c", "echo first; exec sleep 30"}, o, [&](std::string_view) {
    const bs::Result id = podman({"ps", "-q", "--filter", "label=" + label});
    const std::string cid = id.out.data.substr(0, id.out.data.find('\n'));
    const bs::Result inspect = podman({"inspect", "--format", "{{.HostConfig.LogConfig.Type}}", cid});
    driver = inspect.out.data;
    return false;
  });
  EXPECT_EQ(r.reason, bs::EndReason::cancelled) << r.err.data;
  EXPECT_EQ(driver, "none\n");
}

}  // namespace
