// The async entry points, on standalone Asio: `async_run` and the line stream
// (`open_line_stream`, `LineStream::async_next`). Both drive the same engine
// as the sync `run`; nothing blocks a thread and nothing sleeps. This header
// also brings `AsyncInteractive` (async_interactive.hpp).
//
//   asio::awaitable<void> job() {
//     auto ex = co_await asio::this_coro::executor;
//     Result r = co_await async_run(ex, {"echo", "hi"}, {.timeout = 5s}, asio::use_awaitable);
//
// Every async operation of the library completes with
// `void(std::error_code, T)`; errors before anything runs (bad options, a
// program that cannot start) are thrown by the initiating call; misuse (a
// second pending operation of a kind) throws std::logic_error there too.
//   }
//
// This header includes Asio; the sync headers never do.
#pragma once

#include <sys/types.h>

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/execution_context.hpp>
#include <asio/is_executor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "bounded_subprocess/async_interactive.hpp"
#include "bounded_subprocess/detail/async_run_op.hpp"
#include "bounded_subprocess/error.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "bounded_subprocess/spawn_error.hpp"
#include "bounded_subprocess/stream.hpp"

namespace bounded_subprocess {

namespace detail {
struct LineStreamAccess;  // makes LineStreams (src/stream/line_stream_hooks.hpp)
}  // namespace detail

/// Runs `argv` like `run` (same options, same bounds, same Result, on the
/// host or in `options.container`), driven by Asio on `ex`: the child's pipes and pidfd are waited on with
/// `asio::posix::stream_descriptor::async_wait`, the deadline with a
/// `steady_timer`, and the memory watchdog (when `memory_limit_mb` is set)
/// with one shared timer per execution context whose single /proc scan per
/// tick serves every watched run of that context. In a container, the
/// podman client runs this way, then, whatever ended it, the cleanup
/// `podman rm` as another async run (bounded by `cleanup_timeout`); the
/// operation completes only once the container is removed and the cidfile
/// deleted.
///
/// Options: see the table in options.hpp. Rejected here: `max_line_size`,
/// `on_interrupt` (nothing blocks a thread); with a container,
/// `memory_limit_mb` and `memory_watchdog_interval`.
///
/// Completion signature: `void(std::error_code ec, Result result)`, the
/// Result always delivered (as Asio's async_read delivers bytes_transferred
/// with its error):
///  - no error: the run happened, whatever its exit code, timeout or memory
///    kill (see `result.reason`);
///  - `asio::error::operation_aborted`: the run was cancelled (below); the
///    Result says `reason == EndReason::cancelled` and holds the output read
///    so far;
///  - another code (`std::errc::not_enough_memory`, a system error, or
///    `errc::internal_error`): the engine failed while supervising; the
///    group was killed and the child reaped.
/// With `asio::use_future` / `asio::use_awaitable` an error (cancellation
/// included) is thrown as `std::system_error` and the Result is lost: use
/// `asio::experimental::as_tuple` or `asio::redirect_error` to keep both.
///
/// The child (in a container: the podman client) is started by this call
/// itself (whatever the token, so that a start failure is thrown here); it
/// is supervised (deadline, output, watchdog) from the initiation of the
/// operation, which with a lazy token (`use_awaitable`, `deferred`) is the
/// `co_await` or the invocation; the deadline counts from the start. An
/// operation dropped uninitiated kills and reaps its child (and removes its
/// container).
///
/// Errors thrown by this call, before anything is supervised:
///  - `std::invalid_argument` (a field this entry point does not use, naming it;
///    empty argv, NUL in an argument, bad env name, a timeout or interval
///    that is not positive, a memory limit of 0, an empty image);
///  - `SpawnError` when the program (or podman) cannot start (not found, not
///    executable, cwd missing, out of fds), naming it; `std::system_error`
///    when a container's temporary folder cannot be made. Nothing is leaked
///    and the handler is destroyed without being called.
///
/// Cancellation: per-operation cancellation through the completion handler's
/// cancellation slot (`asio::bind_cancellation_slot`, awaitable operators
/// `||`, `asio::experimental::parallel_group`), for the terminal, partial
/// and total types alike: the process group gets SIGKILL, the child is
/// reaped, and the operation completes with `operation_aborted`,
/// `reason == EndReason::cancelled` and `exit_code == -1`, with the output
/// read so far; in a container the container is removed first (a
/// cancellation that arrives during that cleanup is ignored: the cleanup
/// always runs to its end). If that cleanup fails, the operation completes
/// with `errc::cleanup_failed` and `result.cleanup_error` says why. Emit the
/// signal from the thread running the handler's executor (Asio's usual rule
/// for cancellation slots).
///
/// Executors and threads: the work runs on an internal strand of `ex`, so a
/// multi-threaded `io_context` is safe and any number of concurrent runs may
/// share one `io_context`; the handler is invoked (always posted, never
/// inline from this call) through its associated executor, which is kept
/// busy (outstanding work) until then; the erased handler lives in memory
/// from its associated allocator. If the execution context is destroyed
/// before completion, the group is killed and the child reaped (and a
/// container removed synchronously, bounded by cleanup_timeout); the
/// handler is destroyed without being called.
///
/// The argv[0] lookup, environment, stdin, capture and end-of-run rules are
/// those of `run` (see bounded_subprocess/run.hpp).
template <class Executor, class CompletionToken>
requires detail::is_executor_v<Executor>
auto async_run(const Executor& ex, std::vector<std::string> argv, Options options, CompletionToken&& token) {
  // The options are checked and the child starts here, so that an error is
  // thrown by this call whatever the token; the operation supervises the
  // child once initiated.
  auto run = detail::prepare_async_run(asio::any_io_executor(ex), argv, options);
  return asio::async_initiate<CompletionToken, void(std::error_code, Result)>(
      detail::InitiateAsyncRun<Executor>{ex}, token, std::move(run));
}

namespace detail {
/// `async_run` for the library's own faces (the batch command, Python): a
/// program that cannot start may be reported after the call, through `late`
/// and then the completion's code (see LateStartError).
template <class Executor, class CompletionToken>
requires detail::is_executor_v<Executor>
auto async_run_late_start(const Executor& ex, std::vector<std::string> argv, Options options,
                          LateStartError late, CompletionToken&& token) {
  auto run = prepare_async_run(asio::any_io_executor(ex), argv, options, std::move(late));
  return asio::async_initiate<CompletionToken, void(std::error_code, Result)>(InitiateAsyncRun<Executor>{ex},
                                                                              token, std::move(run));
}
}  // namespace detail

/// The same, on the executor of an execution context such as `io_context&`.
template <class ExecutionContext, class CompletionToken>
requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
auto async_run(ExecutionContext& ctx, std::vector<std::string> argv, Options options,
               CompletionToken&& token) {
  return async_run(ctx.get_executor(), std::move(argv), std::move(options),
                   std::forward<CompletionToken>(token));
}

/// A running child whose stdout is read line by line (see stream.hpp for
/// the bounds and how a stream ends). Created by `open_line_stream`.
/// Move-only. Its member functions are not thread-safe: call them from the
/// thread running its executor (for a multi-threaded io_context: from
/// within `get_executor()`, which is a strand) or while that executor is
/// not running.
///
/// Destruction, like `close()`, kills the process group and reaps the child
/// (no zombie, no fd left); an `async_next` still pending then completes
/// with the lines left, then `asio::error::eof`.
class LineStream {
 public:
  using executor_type = asio::any_io_executor;

  LineStream(LineStream&&) noexcept;
  LineStream& operator=(LineStream&&) noexcept;
  ~LineStream();

  /// The stream's strand; completion handlers without an associated
  /// executor of their own run there.
  executor_type get_executor() const;

  /// Waits for the next stdout line (without '\n').
  ///
  /// Completion signature: `void(std::error_code ec, std::string line)`:
  ///  - no error: `line` is the next line;
  ///  - `asio::error::eof`: the stream has ended (child reaped, group killed,
  ///    container removed, end hook done); every later call completes with
  ///    `eof` too. Lines read before the end are all delivered before it;
  ///  - `asio::error::operation_aborted`: this call was cancelled (below);
  ///  - another code, once, before `eof`: the engine failed (see
  ///    `async_run`).
  /// With `use_awaitable` / `use_future` each error code, `eof` included, is
  /// thrown as `std::system_error`; loop with
  /// `asio::experimental::as_tuple(asio::use_awaitable)` and stop at `eof`.
  ///
  /// Errors thrown by this call: `std::logic_error` while another
  /// `async_next` is pending, or on a moved-from stream.
  ///
  /// Cancellation (terminal, partial or total): only the wait is cancelled,
  /// with no side effect: the call completes with
  /// `asio::error::operation_aborted`; no line is lost and the child keeps
  /// running (call `close()` to stop it).
  template <class CompletionToken>
  auto async_next(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code, std::string)>(
        detail::InitiateNextLine{get_executor()}, token, detail::NextLineClaim(impl_));
  }

  /// Stops the stream now: SIGKILL to the group, then the child is reaped
  /// before this returns (a SIGKILLed process goes within milliseconds); the
  /// result's reason becomes `EndReason::cancelled` unless the stream had
  /// already ended. Lines already read can still be taken with `async_next`,
  /// then it yields `asio::error::eof` (in a container, once it is removed).
  /// Idempotent; never throws.
  void close() noexcept;

  /// The child's pid, which is also its process group id.
  pid_t pid() const noexcept;

  /// True once the stream has ended (and, in a container, the container is
  /// removed).
  bool finished() const noexcept;

  /// The final result (see `run_stream_lines` for its fields); only once
  /// `finished()`, else `std::logic_error`.
  const Result& result() const;

 private:
  friend struct detail::LineStreamAccess;
  explicit LineStream(std::shared_ptr<detail::LineStreamImpl> impl) noexcept;
  std::shared_ptr<detail::LineStreamImpl> impl_;
};

/// Starts `argv` with stdout read as lines and returns its stream. The child
/// is spawned before this returns; stdout is read on `ex` as it arrives
/// (while the caller is not asking, at most about 1 MiB of lines is queued
/// before reading pauses, so the child then blocks on its pipe: the memory
/// of a stream is bounded). The bounds and the result are those of
/// `run_stream_lines` (stream.hpp).
///
/// In a container (`options.container`), the stream is over the podman
/// client's stdout; whatever ends it (EOF, the deadline, `close()`,
/// destroying the `LineStream`), the container is then removed with an
/// async run of `podman rm` on `ex`, and the stream reports its end (the
/// final `eof` of `async_next`, `finished()`) only after that. If
/// the executor's context is gone before the cleanup could run or finish,
/// the container is removed synchronously (bounded by cleanup_timeout) when
/// the last piece of the call is destroyed. A failed cleanup is not
/// reported (no error channel is left once the stream ended);
/// `run_stream_lines` reports it.
///
/// Options: see the table in options.hpp. Rejected here: `tail = false`,
/// `on_interrupt`; with a container, `memory_limit_mb` and
/// `memory_watchdog_interval`.
///
/// Errors: `std::invalid_argument` for a field this entry point does not use
/// (naming it), bad bounds or argv; `SpawnError` naming the program (or
/// podman) when it cannot start; `std::system_error` when the container's
/// temporary folder cannot be made. Nothing is leaked on error.
///
/// Thread safety: may be called from any thread; see `LineStream` for the
/// use of the returned object.
LineStream open_line_stream(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                            const Options& options);

}  // namespace bounded_subprocess
