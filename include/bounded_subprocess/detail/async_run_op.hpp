// Internal to async.hpp: how `async_run` and `LineStream::async_next` hand
// an erased completion handler to the operations compiled in the library
// (src/drivers/async_run.cpp, src/stream/stream_async.cpp,
// src/podman/podman_async.cpp). Users never name
// anything here; include bounded_subprocess/async.hpp.
//
// What can fail before anything runs (a spawn, a second pending call) is done
// by the initiating *call*, not inside async_initiate's initiation: Asio 1.22
// cannot propagate an exception thrown from an initiation through
// use_awaitable (it terminates). The call hands what it prepared to the
// initiation as an argument that cleans up if the operation is never
// initiated (a deferred operation dropped unused).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/execution_context.hpp>
#include <asio/is_executor.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bounded_subprocess/detail/async_completion.hpp"
#include "bounded_subprocess/detail/async_podman_op.hpp"
#include "bounded_subprocess/detail/cancel_bridge.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

class AsyncRunOp;
/// For the library's own faces that report a failed start with the run's
/// outcome anyway (the batch command, Python's `run_async`): called on the
/// run's strand with the exception that a start which failed after the call
/// returned would have thrown, just before the completion gets its code.
/// Given one, the call does not wait for the program's exec where the start
/// allows (a run with namespaces of its own made for it: the init sets it
/// up on another CPU while the caller starts the next run).
using LateStartError = std::function<void(std::exception_ptr)>;
/// Spawns the child, not yet supervised: throws (std::invalid_argument,
/// SpawnError) with nothing left behind. Destroying the op unstarted kills
/// and reaps the child.
std::shared_ptr<AsyncRunOp> spawn_async_run(const asio::any_io_executor& ex,
                                            const std::vector<std::string>& argv, const Options& options,
                                            LateStartError late = nullptr);
/// Begins supervising a spawned child; `completion` gets the Result.
void start_async_run(const std::shared_ptr<AsyncRunOp>& op, Completion<Result> completion);
/// Cancels the run (every type: the group is killed as cancelled).
void cancel_async_run(const std::weak_ptr<AsyncRunOp>& op, const NoCancelKey&,
                      asio::cancellation_type_t type) noexcept;

/// What `async_run` prepared at the call: a spawned child on the host, or
/// (with `options.container`) a podman client and its scratch folder.
/// Exactly one is set; dropped uninitiated, it cleans up.
struct PreparedRun {
  std::shared_ptr<AsyncRunOp> host;
  std::shared_ptr<PodmanRun> container;
};
/// Checks every option first, then spawns. Throws as `spawn_async_run`
/// (and, with a container, as `prepare_async_podman_run`) with nothing
/// left behind.
PreparedRun prepare_async_run(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                              const Options& options, LateStartError late = nullptr);

class LineStreamImpl;
/// The claim of a stream's one pending async_next (a misuse check): made by
/// the call, given back when the operation completes, or by the destructor
/// if the operation was never initiated.
class NextLineClaim {
 public:
  /// Throws std::logic_error while another async_next is pending.
  explicit NextLineClaim(std::shared_ptr<LineStreamImpl> impl);
  NextLineClaim(NextLineClaim&& o) noexcept : impl_(std::move(o.impl_)), ticket_(o.ticket_) {}
  NextLineClaim& operator=(NextLineClaim&&) = delete;
  ~NextLineClaim();
  const std::shared_ptr<LineStreamImpl>& impl() const noexcept { return impl_; }
  std::uint64_t ticket() const noexcept { return ticket_; }
  /// Starts the claimed wait; the claim now belongs to the operation.
  void start(Completion<std::string> completion);

 private:
  std::shared_ptr<LineStreamImpl> impl_;
  std::uint64_t ticket_ = 0;
};
/// Cancels the wait `ticket` if it is still the pending one (every type: no
/// line is lost).
void next_line_cancel(const std::weak_ptr<LineStreamImpl>& impl, const std::uint64_t& ticket,
                      asio::cancellation_type_t type) noexcept;

/// How many /proc scans the shared memory watchdog of `ctx` has made (tests).
std::uint64_t memory_watchdog_scans(asio::execution_context& ctx);

using CancelRun = CancelBridge<AsyncRunOp, NoCancelKey, cancel_async_run>;
using CancelNextLine = CancelBridge<LineStreamImpl, std::uint64_t, next_line_cancel>;

template <class Executor>
struct InitiateAsyncRun {
  using executor_type = Executor;
  Executor ex;
  executor_type get_executor() const noexcept { return ex; }

  template <class Handler>
  void operator()(Handler&& handler, PreparedRun run) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto completion = make_completion<Result>(std::forward<Handler>(handler), ex);
    if (run.container) {
      std::shared_ptr<asio::cancellation_signal> signal;
      if (slot.is_connected()) {
        signal = std::make_shared<asio::cancellation_signal>();
        slot.template emplace<CancelPodmanRun>(CancelPodmanRun{run.container, signal});
      }
      start_async_podman_run(std::move(run.container), std::move(completion), std::move(signal));
      return;
    }
    if (slot.is_connected()) slot.template emplace<CancelRun>(CancelRun{run.host, {}});
    start_async_run(run.host, std::move(completion));
  }
};

struct InitiateNextLine {
  using executor_type = asio::any_io_executor;
  executor_type ex;
  executor_type get_executor() const noexcept { return ex; }

  template <class Handler>
  void operator()(Handler&& handler, NextLineClaim claim) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto completion = make_completion<std::string>(std::forward<Handler>(handler), ex);
    // The cancellation handler goes in before the start: on a multi-threaded
    // context the operation may complete (and clear the slot) at once.
    if (slot.is_connected())
      slot.template emplace<CancelNextLine>(CancelNextLine{claim.impl(), claim.ticket()});
    claim.start(std::move(completion));
  }
};

template <class T>
inline constexpr bool is_executor_v = asio::execution::is_executor<T>::value || asio::is_executor<T>::value;

}  // namespace bounded_subprocess::detail
