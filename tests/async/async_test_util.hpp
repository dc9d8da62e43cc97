// Helpers shared by the async tests.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "leak_check.hpp"

namespace bs_async_test {

using namespace bounded_subprocess;

/// Makes `io` open its reactor fds (epoll, eventfd, timerfd) now, so that a
/// bs_test::NoLeaks made afterwards counts only what the runs leave behind.
inline void warm_up(asio::io_context& io) {
  asio::steady_timer timer(io);
}

/// async_run with a plain callback on a fresh io_context, run to the end.
inline Result run_async(const std::vector<std::string>& argv, const Options& options = {}) {
  asio::io_context io;
  std::optional<Result> result;
  std::exception_ptr error;
  int calls = 0;
  async_run(io, argv, options, [&](std::exception_ptr e, Result r) {
    ++calls;
    error = e;
    result = std::move(r);
  });
  io.run();
  EXPECT_EQ(calls, 1) << "the handler must be called exactly once";
  if (error) std::rethrow_exception(error);
  return result.value();
}

/// argv that prints "pgid PID" (its own pid, which is its group id), then
/// becomes `bs_misbehave MODE ARGS...` in the same process.
inline std::vector<std::string> with_pgid(std::vector<std::string> mode_and_args) {
  std::vector<std::string> argv{"/bin/sh", "-c", "echo pgid $$; exec \"$0\" \"$@\"", bs_test::misbehave()};
  argv.insert(argv.end(), mode_and_args.begin(), mode_and_args.end());
  return argv;
}

inline std::vector<std::string> misbehave(std::vector<std::string> mode_and_args) {
  std::vector<std::string> argv{bs_test::misbehave()};
  argv.insert(argv.end(), mode_and_args.begin(), mode_and_args.end());
  return argv;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace bs_async_test
