// Internal to async.hpp: how `async_run` with a container hands an erased
// completion handler to the operation compiled in the library
// (src/podman/podman_async.cpp). Users never name anything here; include
// bounded_subprocess/async.hpp.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/cancellation_type.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bounded_subprocess/detail/async_completion.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

class AsyncPodmanOp;
std::shared_ptr<AsyncPodmanOp> make_async_podman_op(const asio::any_io_executor& ex,
                                                    Completion<Result> completion);
void start_async_podman_run(const std::shared_ptr<AsyncPodmanOp>& op, const std::vector<std::string>& argv,
                            const Options& options);
void cancel_async_podman_run(const std::weak_ptr<AsyncPodmanOp>& op, asio::cancellation_type_t type) noexcept;

struct CancelPodmanRun {
  std::weak_ptr<AsyncPodmanOp> op;
  void operator()(asio::cancellation_type_t type) const {
    if (type != asio::cancellation_type::none) cancel_async_podman_run(op, type);
  }
};

template <class Executor>
struct InitiateAsyncPodmanRun {
  using executor_type = Executor;
  Executor ex;
  executor_type get_executor() const noexcept { return ex; }

  template <class Handler>
  void operator()(Handler&& handler, const std::vector<std::string>& argv, const Options& options) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto completion = make_completion<Result>(std::forward<Handler>(handler), ex);
    auto op = make_async_podman_op(asio::any_io_executor(ex), std::move(completion));
    if (slot.is_connected()) slot.template emplace<CancelPodmanRun>(CancelPodmanRun{op});
    start_async_podman_run(op, argv, options);
  }
};

}  // namespace bounded_subprocess::detail
