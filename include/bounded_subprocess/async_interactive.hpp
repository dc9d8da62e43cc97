// The async twin of Interactive, on standalone Asio: a long-lived child
// spoken to line by line, with completion tokens (callbacks,
// asio::use_future, asio::use_awaitable, asio::experimental::deferred).
// Every operation completes with `void(std::error_code, T)`.
//
//   asio::awaitable<void> talk() {
//     bounded_subprocess::AsyncInteractive proc(co_await asio::this_coro::executor, {"cat"});
//     co_await proc.async_write("hello\n", 1s, asio::use_awaitable);  // throws system_error on failure
//     auto [ec, line] = co_await proc.async_read_line(1s, asio::experimental::as_tuple(asio::use_awaitable));
//     int code = co_await proc.async_close(1s, asio::use_awaitable);
//   }
#pragma once

#include <sys/types.h>

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/io_context.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bounded_subprocess/detail/async_interactive_op.hpp"
#include "bounded_subprocess/detail/interactive_timeout.hpp"
#include "bounded_subprocess/interactive.hpp"
#include "bounded_subprocess/spawn_error.hpp"

namespace bounded_subprocess {

/// A child process with piped stdin and stdout (stderr inherited), in its
/// own session and process group, driven by Asio: the async twin of
/// `Interactive`, with the same behaviour; its outcomes are error codes.
///
/// Each operation is one composed Asio operation (`asio::async_compose`) on
/// the object's strand: it calls the non-blocking steps of the sync core and,
/// when one would block, waits on the pipe and the child's pidfd with
/// `stream_descriptor::async_wait`, raced against its own `steady_timer` at
/// the exact deadline: no polling interval. A write really puts its bytes
/// into the pipe before it completes without error (an echo through `cat`
/// comes back).
///
/// Completion codes (`std::error_code`, Asio's own values):
///
/// | operation         | value            | error codes                                                |
/// |-------------------|------------------|------------------------------------------------------------|
/// | `async_write`     | bytes written    | `timed_out`; `broken_pipe` (the child exited or closed its  |
/// |                   |                  | stdin); `operation_aborted` (cancelled, or closed)          |
/// | `async_read_line` | the line         | `timed_out`; `eof`; `operation_aborted` (cancelled, closed) |
/// | `async_close`     | the exit code    | `operation_aborted` (cancelled: killed at once, still       |
/// |                   |                  | reaped, code delivered); a system error when the status     |
/// |                   |                  | cannot be known (code -1)                                    |
///
/// (`asio::error::timed_out`, `asio::error::broken_pipe`, `asio::error::eof`,
/// `asio::error::operation_aborted`.) The value is always delivered, with an
/// error too (a write's prefix written, an empty line, the code). With
/// `use_awaitable` / `use_future` an error is thrown as `std::system_error`;
/// use `asio::experimental::as_tuple` to get both.
///
/// Errors thrown by the calls: `std::invalid_argument` for a negative or
/// NaN timeout; `std::logic_error` on a moved-from object or while another
/// operation of the same kind is pending. The constructor throws like
/// `Interactive`'s (std::invalid_argument, SpawnError naming the program).
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
/// cancellation slot; emit the signal from the thread running the handler's
/// executor, Asio's usual rule, and the object takes it over to its strand).
/// Each operation honours only the types it can keep, and ignores the
/// others: `async_read_line` every type (bytes already read stay buffered),
/// `async_write` and `async_close` `terminal` and `partial` but not `total`
/// (which promises no side effects: a write may have put a prefix in the
/// pipe, as with Asio's own `async_write`, and a close kills). A pending
/// write or read completes with `operation_aborted` (a write's value says
/// how much is in the pipe). Neither kills the child: it keeps running
/// until `async_close` or the destructor. A cancelled `async_close` skips
/// the rest of its nice wait: it SIGKILLs the group at once and completes,
/// after the child is reaped, with `operation_aborted` and the code.
///
/// At most one async_write, one async_read_line and one async_close may be
/// pending at a time (a write and a read may be pending together): starting
/// a second one of a kind throws std::logic_error. Starting `async_close`
/// makes a pending write or read complete with `operation_aborted`, and so
/// does any write or read started after it.
///
/// Lifetime: the destructor of an object whose child was not closed closes
/// the pipes, SIGKILLs the group and reaps the child; that reap blocks the
/// calling thread for the moment the kernel needs to tear a killed process
/// down. Pending writes and reads then complete with `operation_aborted`, a
/// pending close with the code. As for an Asio I/O object, destroy it (or
/// move onto it) while none of its handlers runs on another thread: from a
/// handler of a single-threaded context, or while the context is not
/// running. The object must be destroyed before its execution context.
class AsyncInteractive {
 public:
  using executor_type = asio::any_io_executor;

  /// Starts `argv`; operations run on a strand of `executor`. Options and
  /// errors as for `Interactive::Interactive` (std::invalid_argument naming
  /// a field this entry point does not use, std::system_error naming the program),
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
  /// The isolation limits the run ran into (`Options::isolation`; see
  /// LimitsHit), once the child has been reaped (with exit_code).
  std::optional<LimitsHit> limits_hit() const noexcept;

  /// Writes all of `data` (copied into the operation) to the child's stdin
  /// within `timeout`, measured from the start of the operation.
  /// Completion signature: `void(std::error_code ec, std::size_t written)`:
  /// no error once every byte is in the pipe; `asio::error::broken_pipe` if
  /// the child had exited or exits meanwhile, or closed its stdin;
  /// `asio::error::timed_out`; `asio::error::operation_aborted` if the
  /// object was closed or the operation cancelled. `written` counts the bytes
  /// put into the pipe in every case.
  template <typename CompletionToken>
  auto async_write(std::string data, Seconds timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(timeout, "bounded_subprocess::AsyncInteractive::async_write");
    return asio::async_initiate<CompletionToken, void(std::error_code, std::size_t)>(
        detail::InitiateInteractive<detail::InteractiveOp::write>{get_executor()}, token,
        detail::InteractiveClaim(impl("async_write"), detail::InteractiveOp::write), std::move(data),
        timeout);
  }

  /// Reads the next line of the child's stdout (without its '\n') within
  /// `timeout`, measured from the start of the operation.
  /// Completion signature: `void(std::error_code ec, std::string line)`: no
  /// error and the line; `asio::error::timed_out` (data read so far stays
  /// buffered); `asio::error::eof` (a partial line at EOF is dropped);
  /// `asio::error::operation_aborted` if the object was closed or the
  /// operation cancelled. `line` is empty with an error.
  template <typename CompletionToken>
  auto async_read_line(Seconds timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(timeout, "bounded_subprocess::AsyncInteractive::async_read_line");
    return asio::async_initiate<CompletionToken, void(std::error_code, std::string)>(
        detail::InitiateInteractive<detail::InteractiveOp::read>{get_executor()}, token,
        detail::InteractiveClaim(impl("async_read_line"), detail::InteractiveOp::read), timeout);
  }

  /// Closes the pipes, waits up to `nice_timeout` for the child to exit,
  /// then SIGKILLs the group; in every case the rest of the group is killed
  /// and the child reaped. Completion signature:
  /// `void(std::error_code ec, int code)`: the exit status, or minus the
  /// signal number (-9 when it had to be killed); the same code again on
  /// later calls. `ec` is `asio::error::operation_aborted` when the close
  /// was cancelled (the group was then killed at once, the code is still
  /// delivered), or a system error when the child's status could not be
  /// known (code -1).
  template <typename CompletionToken>
  auto async_close(Seconds nice_timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(nice_timeout, "bounded_subprocess::AsyncInteractive::async_close");
    return asio::async_initiate<CompletionToken, void(std::error_code, int)>(
        detail::InitiateInteractive<detail::InteractiveOp::close>{get_executor()}, token,
        detail::InteractiveClaim(impl("async_close"), detail::InteractiveOp::close), nice_timeout);
  }

 private:
  const detail::AsyncInteractiveImplPtr& impl(const char* where) const;

  detail::AsyncInteractiveImplPtr impl_;
};

}  // namespace bounded_subprocess
