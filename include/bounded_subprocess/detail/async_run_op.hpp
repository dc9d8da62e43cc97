// Internal to async.hpp: how `async_run` and `LineStream::async_next` hand
// an erased completion handler to the operations compiled in the library
// (src/drivers/async_run.cpp, src/stream/stream_async.cpp,
// src/podman/podman_async.cpp). Users never name
// anything here; include bounded_subprocess/async.hpp.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/execution_context.hpp>
#include <asio/is_executor.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bounded_subprocess/detail/async_completion.hpp"
#include "bounded_subprocess/detail/async_podman_op.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

class AsyncRunOp;
void validate_async_run(const std::vector<std::string>& argv, const Options& options);
std::shared_ptr<AsyncRunOp> make_async_run_op(const asio::any_io_executor& ex);
void start_async_run(const std::shared_ptr<AsyncRunOp>& op, const std::vector<std::string>& argv,
                     const Options& options, Completion<Result> completion);
void cancel_async_run(const std::weak_ptr<AsyncRunOp>& op) noexcept;

class LineStreamImpl;
/// A ticket for the next async_next (0 for a moved-from stream).
std::uint64_t next_line_ticket(const std::shared_ptr<LineStreamImpl>& impl) noexcept;
void next_line_start(const std::shared_ptr<LineStreamImpl>& impl, std::uint64_t ticket,
                     Completion<std::optional<std::string>> completion);
void next_line_cancel(const std::weak_ptr<LineStreamImpl>& impl, std::uint64_t ticket) noexcept;

/// How many /proc scans the shared memory watchdog of `ctx` has made (tests).
std::uint64_t memory_watchdog_scans(asio::execution_context& ctx);

template <class Op>
struct CancelRun {
  std::weak_ptr<Op> op;
  void operator()(asio::cancellation_type_t type) const {
    if (type != asio::cancellation_type::none) cancel_async_run(op);
  }
};

template <class Executor>
struct InitiateAsyncRun {
  using executor_type = Executor;
  Executor ex;
  executor_type get_executor() const noexcept { return ex; }

  template <class Handler>
  void operator()(Handler&& handler, const std::vector<std::string>& argv, const Options& options) const {
    if (options.container) {
      InitiateAsyncPodmanRun<Executor>{ex}(std::forward<Handler>(handler), argv, options);
      return;
    }
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto completion = make_completion<Result>(std::forward<Handler>(handler), ex);
    auto op = make_async_run_op(asio::any_io_executor(ex));
    if (slot.is_connected()) slot.template emplace<CancelRun<AsyncRunOp>>(CancelRun<AsyncRunOp>{op});
    start_async_run(op, argv, options, std::move(completion));
  }
};

struct InitiateNextLine {
  using executor_type = asio::any_io_executor;
  std::shared_ptr<LineStreamImpl> impl;
  executor_type ex;
  executor_type get_executor() const noexcept { return ex; }

  struct Cancel {
    std::weak_ptr<LineStreamImpl> impl;
    std::uint64_t ticket;
    void operator()(asio::cancellation_type_t type) const {
      if (type != asio::cancellation_type::none) next_line_cancel(impl, ticket);
    }
  };

  template <class Handler>
  void operator()(Handler&& handler) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto completion = make_completion<std::optional<std::string>>(std::forward<Handler>(handler), ex);
    // The cancellation handler goes in before the start: on a multi-threaded
    // context the operation may complete (and clear the slot) at once.
    const std::uint64_t ticket = next_line_ticket(impl);
    if (slot.is_connected() && ticket != 0) slot.template emplace<Cancel>(Cancel{impl, ticket});
    next_line_start(impl, ticket, std::move(completion));
  }
};

template <class T>
inline constexpr bool is_executor_v = asio::execution::is_executor<T>::value || asio::is_executor<T>::value;

}  // namespace bounded_subprocess::detail
