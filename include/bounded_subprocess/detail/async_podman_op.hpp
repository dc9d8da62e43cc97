// Internal to podman_async.hpp: how `async_podman_run` hands an erased
// completion handler to the operation compiled in the library
// (src/podman/podman_async.cpp). Users never name anything here; include
// bounded_subprocess/podman_async.hpp.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/cancellation_type.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bounded_subprocess/detail/async_completion.hpp"
#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

class AsyncPodmanOp;
void validate_podman_run(const std::vector<std::string>& argv, const PodmanOptions& options);
/// The call's part: makes the scratch folder and spawns the podman client
/// (supervised only once started). Throws with nothing left behind;
/// dropped unstarted, the client is killed and the container removed.
std::shared_ptr<AsyncPodmanOp> prepare_async_podman_run(const asio::any_io_executor& ex,
                                                        const std::vector<std::string>& argv,
                                                        const PodmanOptions& options);
void start_async_podman_run(const std::shared_ptr<AsyncPodmanOp>& op, Completion<Result> completion);
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
  void operator()(Handler&& handler, std::shared_ptr<AsyncPodmanOp> op) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto completion = make_completion<Result>(std::forward<Handler>(handler), ex);
    if (slot.is_connected()) slot.template emplace<CancelPodmanRun>(CancelPodmanRun{op});
    start_async_podman_run(op, std::move(completion));
  }
};

}  // namespace bounded_subprocess::detail
