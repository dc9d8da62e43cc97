// Internal to async.hpp: how `async_run` with a container hands an erased
// completion handler to the operation compiled in the library
// (src/podman/podman_async.cpp). Users never name anything here; include
// bounded_subprocess/async.hpp.
#pragma once

#include <asio/any_io_executor.hpp>
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
/// The call's part: makes the scratch folder and spawns the podman client
/// (supervised only once started). Throws with nothing left behind;
/// dropped unstarted, the client is killed and the container removed.
std::shared_ptr<AsyncPodmanOp> prepare_async_podman_run(const asio::any_io_executor& ex,
                                                        const std::vector<std::string>& argv,
                                                        const Options& options);
void start_async_podman_run(const std::shared_ptr<AsyncPodmanOp>& op, Completion<Result> completion);
void cancel_async_podman_run(const std::weak_ptr<AsyncPodmanOp>& op, asio::cancellation_type_t type) noexcept;

struct CancelPodmanRun {
  std::weak_ptr<AsyncPodmanOp> op;
  void operator()(asio::cancellation_type_t type) const {
    if (type != asio::cancellation_type::none) cancel_async_podman_run(op, type);
  }
};

}  // namespace bounded_subprocess::detail
