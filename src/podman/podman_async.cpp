// async_run in a container, as one composed operation (asio::async_compose)
// on the run's strand: the podman client through async_run's operation,
// then, whatever ended it, the cleanup `podman rm` through another (twice
// when podman refused the first); it completes
// (`void(std::error_code, Result)`) once the container is gone.
#include <asio/compose.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/strand.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/error.hpp"
#include "drivers/signalled_completion.hpp"
#include "podman/podman_command.hpp"

namespace bounded_subprocess::detail {

class PodmanRun {
 public:
  using Strand = asio::strand<asio::any_io_executor>;

  // Checks every option, then makes the scratch folder and spawns the
  // client; throws with nothing left behind.
  PodmanRun(const asio::any_io_executor& ex, const std::vector<std::string>& argv, const Options& options)
      : strand_(asio::make_strand(ex)), start_(std::chrono::steady_clock::now()) {
    const Options client = checked_client_options(argv, options, EntryPoint::async_run);
    call_.emplace(argv, options);
    call_->set_client_started(true);
    try {
      client_ = spawn_async_run(strand_, call_->command(), client);
    } catch (...) {
      // Nothing started, so nothing to remove: the folder goes with call_.
      call_->set_client_started(false);
      throw;
    }
  }

  const Strand& strand() const noexcept { return strand_; }
  PodmanCall& call() noexcept { return *call_; }
  std::chrono::steady_clock::time_point start() const noexcept { return start_; }
  // Once: the spawned client, for the operation to supervise. From then on
  // the client's run owns itself (and, through its handler, the operation
  // and us), so we keep no reference to it.
  std::shared_ptr<AsyncRunOp> take_client() noexcept { return std::move(client_); }

 private:
  Strand strand_;
  std::chrono::steady_clock::time_point start_;
  // Destroyed in reverse: an unstarted client is killed before its
  // container is removed (PodmanCall's destructor, synchronously).
  std::optional<PodmanCall> call_;
  std::shared_ptr<AsyncRunOp> client_;
};

namespace {

// The composed operation. Step one supervises the client, cancellable
// through our slot (every cancellation type); then the cleanup runs with no
// slot at all, so that a cancellation arriving then does nothing and the
// cleanup runs to its end: a `podman rm`, and a second one when podman
// refused the first (cleanup_retry_options); then it reports.
struct PodmanRunOp {
  enum class Step { client, cleanup, retry };

  explicit PodmanRunOp(std::shared_ptr<PodmanRun> r) noexcept : run(std::move(r)) {}

  std::shared_ptr<PodmanRun> run;
  Step step = Step::client;
  std::error_code ec;
  Result result;

  template <class Self>
  void operator()(Self& self) {
    self.reset_cancellation_state(asio::enable_total_cancellation());
    const PodmanRun::Strand strand = run->strand();
    PreparedRun client{run->take_client(), nullptr};
    // Emplaces the client's cancellation in our slot, then starts it.
    InitiateAsyncRun<PodmanRun::Strand>{strand}(std::move(self), std::move(client));
  }

  template <class Self>
  void operator()(Self& self, std::error_code step_ec, Result step_result) {
    switch (step) {
      case Step::client:
        ec = step_ec;
        result = std::move(step_result);
        remove(self, Step::cleanup, cleanup_options(run->call().options()));
        return;
      case Step::cleanup:
        if (!step_ec) {
          if (auto retry = cleanup_retry_options(run->call().options(), step_result)) {
            remove(self, Step::retry, *retry);
            return;
          }
        }
        break;
      case Step::retry: break;
    }
    finish(self, run->call().cleanup_done(step_ec ? step_ec.message() : std::string(), step_result));
  }

  // Runs the `podman rm` with no cancellation slot.
  template <class Self>
  void remove(Self& self, Step next, const Options& options) {
    step = next;
    const PodmanRun::Strand strand = run->strand();
    std::shared_ptr<AsyncRunOp> rm;
    try {
      rm = spawn_async_run(strand, run->call().rm_command(), options);
    } catch (const std::exception& e) {
      finish(self, run->call().cleanup_done(e.what(), Result{}));
      return;
    }
    start_async_run(rm, make_completion<Result>(std::move(self), strand));
  }

  template <class Self>
  void finish(Self& self, std::optional<std::string> cleanup_error) {
    if (cleanup_error) {
      // A container left behind outweighs a cancellation; an engine failure
      // of the client (rare) keeps its own code.
      result.cleanup_error = std::move(*cleanup_error);
      if (!ec || ec == asio::error::operation_aborted) ec = errc::cleanup_failed;
    }
    result.elapsed = std::chrono::steady_clock::now() - run->start();
    self.complete(ec, std::move(result));
  }
};

}  // namespace

std::shared_ptr<PodmanRun> prepare_async_podman_run(const asio::any_io_executor& ex,
                                                    const std::vector<std::string>& argv,
                                                    const Options& options) {
  return std::make_shared<PodmanRun>(ex, argv, options);
}

void start_async_podman_run(std::shared_ptr<PodmanRun> run, Completion<Result> completion,
                            std::shared_ptr<asio::cancellation_signal> signal) {
  const PodmanRun::Strand strand = run->strand();
  // `strand` is captured, not read from `run` in the call that moves `run`.
  asio::dispatch(strand, [strand, run = std::move(run), completion = std::move(completion),
                          signal = std::move(signal)]() mutable {
    SignalledCompletion<Result> handler{std::move(completion), std::move(signal)};
    asio::async_compose<SignalledCompletion<Result>, void(std::error_code, Result)>(
        PodmanRunOp(std::move(run)), handler, strand);
  });
}

void cancel_async_podman_run(const std::weak_ptr<PodmanRun>& run,
                             const std::weak_ptr<asio::cancellation_signal>& signal,
                             asio::cancellation_type_t type) noexcept {
  auto r = run.lock();
  if (!r) return;
  try {
    asio::dispatch(r->strand(), [signal, type] {
      if (auto s = signal.lock()) s->emit(type);
    });
  } catch (...) {
    // dispatch can only fail on allocation; the run then ends by its deadline.
  }
}

}  // namespace bounded_subprocess::detail
