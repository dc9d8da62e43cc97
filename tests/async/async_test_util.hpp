// Helpers shared by the async tests.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <optional>
#include <string>
#include <system_error>
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
  std::error_code error;
  int calls = 0;
  async_run(io, argv, options, [&](std::error_code e, Result r) {
    ++calls;
    error = e;
    result = std::move(r);
  });
  io.run();
  EXPECT_EQ(calls, 1) << "the handler must be called exactly once";
  if (error) throw std::system_error(error);
  return result.value();
}

/// argv that prints "pgid PID" (its own pid, which is its group id), then
/// becomes `bs_misbehave MODE ARGS...` in the same process.
/// LineStream::async_next for a coroutine: the next line, or std::nullopt
/// at asio::error::eof; any other error code is thrown as std::system_error.
inline asio::awaitable<std::optional<std::string>> next_line(LineStream& stream) {
  auto [ec, line] = co_await stream.async_next(asio::experimental::as_tuple(asio::use_awaitable));
  if (ec == asio::error::eof) co_return std::nullopt;
  if (ec) throw std::system_error(ec);
  co_return std::move(line);
}

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
