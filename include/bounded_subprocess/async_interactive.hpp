// The async twin of Interactive, on standalone Asio: a long-lived child
// spoken to line by line, with completion tokens (callbacks,
// asio::use_future, asio::use_awaitable, asio::experimental::deferred).
//
//   asio::awaitable<void> talk() {
//     bounded_subprocess::AsyncInteractive proc(co_await asio::this_coro::executor, {"cat"});
//     bool ok = co_await proc.async_write("hello\n", 1s, asio::use_awaitable);
//     std::optional<std::string> line = co_await proc.async_read_line(1s, asio::use_awaitable);
//     int code = co_await proc.async_close(1s, asio::use_awaitable);
//   }
#pragma once

#include <sys/types.h>

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bounded_subprocess/detail/async_interactive_op.hpp"
#include "bounded_subprocess/detail/interactive_timeout.hpp"
#include "bounded_subprocess/interactive.hpp"

namespace bounded_subprocess {

/// A child process with piped stdin and stdout (stderr inherited), in its
/// own session and process group, driven by Asio: the async twin of
/// `Interactive`, with the same behaviour and the same errors.
///
/// Waits are Asio waits on the pipes, on the child's pidfd and on a steady
/// timer with the exact deadline: no polling interval. A write really puts
/// its bytes into the pipe before it completes with true (an echo through
/// `cat` comes back).
///
/// Executors and threads: the object's work runs on an internal strand of
/// the executor it was given (`get_executor()`), so an io_context run by
/// several threads is safe. Each completion handler is invoked through its
/// associated executor (the strand when it has none), always posted, never
/// inline from the initiating call; only that final call uses the handler's
/// executor (a `use_future` handler, whose executor is Asio's system
/// executor, never runs the object's steps on a foreign thread).
///
/// Cancellation (per-operation, through the completion handler's
/// cancellation slot; all cancellation types are honoured; emit the signal
/// from the thread running the handler's executor, Asio's usual rule, and
/// the object takes it over to its strand): a pending write completes with false (a prefix
/// may have been written), a pending read with no line (bytes already read
/// stay buffered). Neither kills the child: it keeps running until
/// `async_close` or the destructor. A cancelled `async_close` skips the rest
/// of its nice wait: it SIGKILLs the group at once and completes after the
/// child is reaped.
///
/// At most one async_write, one async_read_line and one async_close may be
/// pending at a time (a write and a read may be pending together): starting
/// a second one of a kind throws std::logic_error. Starting `async_close`
/// makes a pending write complete with false and a pending read with no line.
///
/// Lifetime: the destructor of an object whose child was not closed closes
/// the pipes, SIGKILLs the group and reaps the child; that reap blocks the
/// calling thread for the moment the kernel needs to tear a killed process
/// down. Pending operations then complete with false / no line / the code.
/// As for an Asio I/O object, destroy it (or move onto it) while none of its
/// handlers runs on another thread: from a handler of a single-threaded
/// context, or while the context is not running. The object must be
/// destroyed before its execution context.
class AsyncInteractive {
 public:
  using executor_type = asio::any_io_executor;

  /// Starts `argv`; operations run on a strand of `executor`. Options and
  /// errors as for `Interactive::Interactive` (std::invalid_argument naming
  /// a field this face does not use, std::system_error naming the program),
  /// except that `on_interrupt` is rejected too (nothing blocks a thread).
  AsyncInteractive(const executor_type& executor, std::vector<std::string> argv, Options options = {});
  AsyncInteractive(asio::io_context& context, std::vector<std::string> argv, Options options = {});
  /// Kills the group and reaps the child unless it was closed (see above).
  ~AsyncInteractive();
  AsyncInteractive(AsyncInteractive&& other) noexcept;
  AsyncInteractive& operator=(AsyncInteractive&& other) noexcept;
  AsyncInteractive(const AsyncInteractive&) = delete;
  AsyncInteractive& operator=(const AsyncInteractive&) = delete;

  /// The object's strand (of the executor it was constructed with).
  executor_type get_executor() const;
  /// The child's pid (also its process group id).
  pid_t pid() const noexcept;
  /// True until the child has exited (or been closed). Does not reap.
  bool is_running() const noexcept;
  /// The code async_close completed with, once it has.
  std::optional<int> exit_code() const noexcept;

  /// Writes all of `data` (copied into the operation) to the child's stdin
  /// within `timeout`, measured from the start of the operation.
  /// Completion signature: void(bool): true once every byte is in the pipe;
  /// false if the child had exited or exits meanwhile, the pipe broke, the
  /// timeout passed, the object was closed, or the operation was cancelled.
  /// Errors (thrown at the call): std::invalid_argument for a negative or NaN
  /// timeout, std::logic_error on a moved-from object or while another write
  /// is pending.
  template <typename CompletionToken>
  auto async_write(std::string data, Seconds timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(timeout, "bounded_subprocess::AsyncInteractive::async_write");
    return asio::async_initiate<CompletionToken, void(bool)>(
        detail::InitiateInteractive<bool>{impl("async_write")}, token, std::move(data), timeout);
  }

  /// Reads the next line of the child's stdout (without its '\n') within
  /// `timeout`, measured from the start of the operation.
  /// Completion signature: void(std::optional<std::string>): the line, or no
  /// value on timeout, EOF (a partial line at EOF is dropped), close, or
  /// cancellation. Data read before a timeout stays buffered. Errors as for
  /// async_write.
  template <typename CompletionToken>
  auto async_read_line(Seconds timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(timeout, "bounded_subprocess::AsyncInteractive::async_read_line");
    return asio::async_initiate<CompletionToken, void(std::optional<std::string>)>(
        detail::InitiateInteractive<std::optional<std::string>>{impl("async_read_line")}, token, timeout);
  }

  /// Closes the pipes, waits up to `nice_timeout` for the child to exit,
  /// then SIGKILLs the group; in every case the rest of the group is killed
  /// and the child reaped. Completion signature: void(int): the exit status,
  /// or minus the signal number (-9 when it had to be killed); the same code
  /// again on later calls. Errors as for async_write.
  template <typename CompletionToken>
  auto async_close(Seconds nice_timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(nice_timeout, "bounded_subprocess::AsyncInteractive::async_close");
    return asio::async_initiate<CompletionToken, void(int)>(
        detail::InitiateInteractive<int>{impl("async_close")}, token, nice_timeout);
  }

 private:
  const detail::AsyncInteractiveImplPtr& impl(const char* where) const;

  detail::AsyncInteractiveImplPtr impl_;
};

}  // namespace bounded_subprocess
