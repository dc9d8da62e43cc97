// The async container faces, on standalone Asio: `async_podman_run` and
// `open_podman_line_stream`. They drive `async_run` and `open_line_stream`
// (bounded_subprocess/async.hpp) around `podman run --rm -i --cidfile FILE`,
// and remove the container asynchronously (an `async_run` of
// `podman rm -f --time 0 --cidfile FILE --ignore`) before they report the end.
//
//   asio::awaitable<void> job() {
//     auto ex = co_await asio::this_coro::executor;
//     Result r = co_await async_podman_run(ex, {"cat"},
//         {.image = "localhost/my-image", .timeout = 5s, .stdin_data = "hi\n"},
//         asio::use_awaitable);
//   }
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>

#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/detail/async_podman_op.hpp"
#include "bounded_subprocess/podman.hpp"

namespace bounded_subprocess {

/// Runs `argv` in a container like `podman_run` (same options, command line
/// and Result), driven by Asio on `ex`: the podman client through
/// `async_run`, then, whatever ended it, the cleanup `podman rm` through
/// another `async_run` (bounded by `cleanup_timeout`); the operation
/// completes only once the container is removed and the cidfile deleted.
///
/// Completion signature: `void(std::error_code ec, Result result)`, the
/// Result (the client's) always delivered:
///  - no error: the run happened (whatever its exit code or timeout) and
///    the container is gone;
///  - `asio::error::operation_aborted`: cancelled (below); the container is
///    gone;
///  - `errc::cleanup_failed`: the container could not be removed;
///    `result.cleanup_error` holds podman's message (the same text the sync
///    `podman_run` throws as std::runtime_error). It outweighs a cancellation;
///  - another code: the engine failed while running the client (see
///    `async_run`).
/// With `asio::use_future` / `asio::use_awaitable` an error is thrown as
/// `std::system_error` (its `code()` as above) and the Result is lost; use
/// `asio::experimental::as_tuple` or `asio::redirect_error` to keep both.
///
/// As for `async_run`, the client is started by this call and supervised
/// once the operation is initiated. Errors thrown by this call:
/// `std::invalid_argument` for bad options or argv (as `podman_run`);
/// `std::system_error` when the temporary folder cannot be made;
/// `SpawnError` naming podman when it cannot be started. Nothing is left
/// behind and the handler is destroyed without being called.
///
/// Cancellation: per-operation, through the completion handler's
/// cancellation slot (terminal, partial and total alike): the podman
/// client's group is killed, the container is removed, and the operation
/// completes with `operation_aborted`, `reason == EndReason::cancelled` and
/// `exit_code == -1`. A cancellation that arrives during the cleanup is
/// ignored (the cleanup always runs to its end). Emit the signal from the
/// thread running the handler's executor.
///
/// Executors and threads: as `async_run` (the work runs on an internal
/// strand of `ex`; the handler is always posted through its associated
/// executor). If the execution context is destroyed before completion, the
/// client's group is killed and the container removed synchronously
/// (bounded by cleanup_timeout); the handler is destroyed without being
/// called.
template <class Executor, class CompletionToken>
requires detail::is_executor_v<Executor>
auto async_podman_run(const Executor& ex, std::vector<std::string> argv, PodmanOptions options,
                      CompletionToken&& token) {
  detail::validate_podman_run(argv, options);
  // The podman client starts here (a start failure is thrown by this call,
  // whatever the token); the operation supervises it once initiated.
  auto op = detail::prepare_async_podman_run(asio::any_io_executor(ex), argv, options);
  return asio::async_initiate<CompletionToken, void(std::error_code, Result)>(
      detail::InitiateAsyncPodmanRun<Executor>{ex}, token, std::move(op));
}

/// The same, on the executor of an execution context such as `io_context&`.
template <class ExecutionContext, class CompletionToken>
requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
auto async_podman_run(ExecutionContext& ctx, std::vector<std::string> argv, PodmanOptions options,
                      CompletionToken&& token) {
  return async_podman_run(ctx.get_executor(), std::move(argv), std::move(options),
                          std::forward<CompletionToken>(token));
}

/// The async stream face (the seed's `podman_run_stream_lines`): starts
/// `argv` in a container and returns a `LineStream` over the stdout of the
/// podman client (see `LineStream` in async.hpp for `async_next`, `close`
/// and `result`). Whatever ends the stream (EOF, the deadline, `close()`,
/// destroying the `LineStream`), the container is then removed with an
/// `async_run` of `podman rm` on `ex`, and the stream reports its end (the
/// final `asio::error::eof` of `async_next`, `finished()`) only after that. If
/// the executor's context is gone before the cleanup could run or finish,
/// the container is removed synchronously (bounded by cleanup_timeout) when
/// the last piece of the call is destroyed.
///
/// Errors: `std::invalid_argument` for bad options or argv; `SpawnError`
/// when podman cannot be started (naming it); `std::system_error` when the
/// temporary folder cannot be made. Nothing is left on error. A failed
/// cleanup is not reported by the stream (no error channel is left once it
/// ended); see `podman_run_stream_lines` for a face that reports it.
///
/// Thread safety: may be called from any thread; the returned stream is
/// used as `LineStream` says.
LineStream open_podman_line_stream(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                                   const PodmanStreamOptions& options);

}  // namespace bounded_subprocess
