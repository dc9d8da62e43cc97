// async_run in a container: the podman client through async_run, then the cleanup
// `podman rm` through another async_run, on one strand; the erased handler
// is completed (`void(std::error_code, Result)`) once the container is gone.
#include <asio/cancellation_signal.hpp>
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
#include "podman/podman_command.hpp"

namespace bounded_subprocess::detail {

namespace {

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "podman: the container could not be removed";
  }
}

}  // namespace

class AsyncPodmanOp final : public std::enable_shared_from_this<AsyncPodmanOp> {
 public:
  explicit AsyncPodmanOp(const asio::any_io_executor& ex) : strand_(asio::make_strand(ex)) {}

  // The initiating call: makes the scratch folder and spawns the client
  // (not yet supervised). Throws (std::system_error for the folder,
  // SpawnError for podman) with nothing left behind. Dropped unstarted, the
  // client is killed and the container removed synchronously.
  void prepare(const std::vector<std::string>& argv, const Options& options) {
    start_ = std::chrono::steady_clock::now();
    call_.emplace(argv, options);
    call_->set_client_started(true);
    try {
      client_ = spawn_async_run(strand_, call_->command(), client_options(options));
    } catch (...) {
      // Nothing started, so nothing to remove: the folder goes with call_.
      call_->set_client_started(false);
      call_.reset();
      throw;
    }
  }

  // The initiation: supervises the client on the strand, then the cleanup.
  void start(Completion<Result> completion) {
    completion_ = std::move(completion);
    asio::dispatch(strand_, [self = shared_from_this()] {
      // On the strand, like every use of cancel_. The client's run now owns
      // itself (and, through ClientDone, us): we keep no reference to it, or
      // the two would keep each other alive past the end of their execution
      // context.
      const auto client = std::move(self->client_);
      self->cancel_.slot().emplace<CancelRun<AsyncRunOp>>(CancelRun<AsyncRunOp>{client});
      start_async_run(client, make_completion<Result>(ClientDone{self}, self->strand_));
    });
  }

  // The user's cancellation slot can only be emitted once the initiation has
  // returned, so this reaches the strand after start's work (a strand runs
  // its work in order): the client is always started when it is cancelled.
  // Once the client has ended the slot is empty, so a cancellation during
  // the cleanup does nothing: the cleanup always runs to its end.
  void cancel(asio::cancellation_type_t type) {
    asio::dispatch(strand_, [self = shared_from_this(), type] { self->cancel_.emit(type); });
  }

 private:
  // The client's completion handler, on our strand.
  struct ClientDone {
    std::shared_ptr<AsyncPodmanOp> self;
    using executor_type = asio::strand<asio::any_io_executor>;
    executor_type get_executor() const noexcept { return self->strand_; }
    void operator()(std::error_code ec, Result result) { self->on_client_done(ec, std::move(result)); }
  };

  struct CleanupDone {
    std::shared_ptr<AsyncPodmanOp> self;
    using executor_type = asio::strand<asio::any_io_executor>;
    executor_type get_executor() const noexcept { return self->strand_; }
    void operator()(std::error_code ec, Result result) {
      self->on_cleanup_done(ec ? std::make_exception_ptr(std::system_error(ec)) : nullptr, result);
    }
  };

  void on_client_done(std::error_code ec, Result result) {
    cancel_.slot().clear();
    ec_ = ec;
    result_ = std::move(result);
    try {
      const auto rm = call_->rm_command();
      async_run(strand_, rm, cleanup_options(call_->options()), CleanupDone{shared_from_this()});
    } catch (...) {
      on_cleanup_done(std::current_exception(), Result{});
    }
  }

  void on_cleanup_done(std::exception_ptr rm_error, const Result& rm_result) {
    if (auto cleanup_error = call_->cleanup_done(std::move(rm_error), rm_result)) {
      // A container left behind outweighs a cancellation; an engine failure
      // of the client (rare) keeps its own code.
      result_.cleanup_error = message_of(cleanup_error);
      if (!ec_ || ec_ == asio::error::operation_aborted) ec_ = errc::cleanup_failed;
    }
    result_.elapsed = std::chrono::steady_clock::now() - start_;
    if (completion_) completion_(ec_, std::move(result_));
  }

  asio::strand<asio::any_io_executor> strand_;
  Completion<Result> completion_;
  std::optional<PodmanCall> call_;      // its destructor cleans up if we could not
  std::shared_ptr<AsyncRunOp> client_;  // spawned, until started
  asio::cancellation_signal cancel_;
  std::chrono::steady_clock::time_point start_;
  std::error_code ec_;
  Result result_;
};

std::shared_ptr<AsyncPodmanOp> prepare_async_podman_run(const asio::any_io_executor& ex,
                                                        const std::vector<std::string>& argv,
                                                        const Options& options) {
  auto op = std::make_shared<AsyncPodmanOp>(ex);
  op->prepare(argv, options);
  return op;
}

void start_async_podman_run(const std::shared_ptr<AsyncPodmanOp>& op, Completion<Result> completion) {
  op->start(std::move(completion));
}

void cancel_async_podman_run(const std::weak_ptr<AsyncPodmanOp>& op,
                             asio::cancellation_type_t type) noexcept {
  if (auto p = op.lock()) {
    try {
      p->cancel(type);
    } catch (...) {
      // dispatch can only fail on allocation; the run then ends by its deadline.
    }
  }
}

}  // namespace bounded_subprocess::detail
