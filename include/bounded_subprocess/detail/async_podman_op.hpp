// Internal to async.hpp: how `async_run` with a container hands an erased
// completion handler to the composed operation compiled in the library
// (src/podman/podman_async.cpp). Users never name anything here; include
// bounded_subprocess/async.hpp.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>

#include <memory>
#include <string>
#include <vector>

#include "bounded_subprocess/detail/async_completion.hpp"
#include "bounded_subprocess/detail/cancel_bridge.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

/// A container run prepared by the call: its options checked, its scratch
/// folder made and the podman client spawned (supervised only once the
/// operation starts). Dropped unstarted, the client is killed and the
/// container removed synchronously.
class PodmanRun;
/// Throws std::invalid_argument (bad options), std::system_error (the
/// folder) or SpawnError (podman), with nothing left behind.
std::shared_ptr<PodmanRun> prepare_async_podman_run(const asio::any_io_executor& ex,
                                                    const std::vector<std::string>& argv,
                                                    const Options& options);
/// Runs the composed operation (the client, then the cleanup) on the run's
/// strand. `signal`, emitted on that strand (cancel_async_podman_run), is
/// its cancellation; null when the caller has no cancellation slot.
void start_async_podman_run(std::shared_ptr<PodmanRun> run, Completion<Result> completion,
                            std::shared_ptr<asio::cancellation_signal> signal);
/// Thread-safe: emits `signal` on the run's strand (a no-op once the
/// operation is over).
void cancel_async_podman_run(const std::weak_ptr<PodmanRun>& run,
                             const std::weak_ptr<asio::cancellation_signal>& signal,
                             asio::cancellation_type_t type) noexcept;

using CancelPodmanRun =
    CancelBridge<PodmanRun, std::weak_ptr<asio::cancellation_signal>, cancel_async_podman_run>;

}  // namespace bounded_subprocess::detail
