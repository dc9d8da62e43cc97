// async_run in a container: the podman client through async_run, then the cleanup
// `podman rm` through another async_run, on one strand; the erased handler
// is completed once the container is gone.
#include <asio/cancellation_signal.hpp>
#include <asio/dispatch.hpp>
#include <asio/strand.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "podman/podman_command.hpp"

namespace bounded_subprocess::detail {

class AsyncPodmanOp final : public std::enable_shared_from_this<AsyncPodmanOp> {
 public:
  AsyncPodmanOp(const asio::any_io_executor& ex, Completion<Result> completion)
      : strand_(asio::make_strand(ex)), completion_(std::move(completion)) {}

  void start(const std::vector<std::string>& argv, const Options& options) {
    start_ = std::chrono::steady_clock::now();
    try {
      call_.emplace(argv, options);
    } catch (...) {
      completion_(std::current_exception(), Result{});  // posted, never thrown
      return;
    }
    const Options client = client_options(options);
    call_->set_client_started(true);
    // On the strand, like every use of cancel_: a cancellation that came
    // before the client's operation was initiated is emitted right after.
    asio::dispatch(strand_, [self = shared_from_this(), client] {
      try {
        async_run(self->strand_, self->call_->command(), client, ClientDone{self});
      } catch (...) {
        self->on_client_done(std::current_exception(), Result{});
        return;
      }
      self->client_initiated_ = true;
      if (self->pending_cancel_ && self->phase_ == Phase::client) self->cancel_.emit(*self->pending_cancel_);
    });
  }

  void cancel(asio::cancellation_type_t type) {
    asio::dispatch(strand_, [self = shared_from_this(), type] {
      if (self->phase_ != Phase::client || self->pending_cancel_) return;
      self->pending_cancel_ = type;
      if (self->client_initiated_) self->cancel_.emit(type);
    });
  }

 private:
  enum class Phase { client, cleanup, done };

  // The client's completion handler: on our strand, with our cancellation slot.
  struct ClientDone {
    std::shared_ptr<AsyncPodmanOp> self;
    using executor_type = asio::strand<asio::any_io_executor>;
    using cancellation_slot_type = asio::cancellation_slot;
    executor_type get_executor() const noexcept { return self->strand_; }
    cancellation_slot_type get_cancellation_slot() const noexcept { return self->cancel_.slot(); }
    void operator()(std::exception_ptr error, Result result) {
      self->on_client_done(std::move(error), std::move(result));
    }
  };

  struct CleanupDone {
    std::shared_ptr<AsyncPodmanOp> self;
    using executor_type = asio::strand<asio::any_io_executor>;
    executor_type get_executor() const noexcept { return self->strand_; }
    void operator()(std::exception_ptr error, Result result) {
      self->on_cleanup_done(std::move(error), result);
    }
  };

  void on_client_done(std::exception_ptr error, Result result) {
    phase_ = Phase::cleanup;
    error_ = std::move(error);
    result_ = std::move(result);
    try {
      const auto rm = call_->rm_command();
      async_run(strand_, rm, cleanup_options(call_->options()), CleanupDone{shared_from_this()});
    } catch (...) {
      on_cleanup_done(std::current_exception(), Result{});
    }
  }

  void on_cleanup_done(std::exception_ptr rm_error, const Result& rm_result) {
    phase_ = Phase::done;
    auto cleanup_error = call_->cleanup_done(std::move(rm_error), rm_result);
    // The first error wins: if the client could not start, neither could rm.
    if (!error_) error_ = std::move(cleanup_error);
    result_.elapsed = std::chrono::steady_clock::now() - start_;
    if (completion_) completion_(std::move(error_), std::move(result_));
  }

  asio::strand<asio::any_io_executor> strand_;
  Completion<Result> completion_;
  std::optional<PodmanCall> call_;  // its destructor cleans up if we could not
  asio::cancellation_signal cancel_;
  Phase phase_ = Phase::client;
  bool client_initiated_ = false;
  std::optional<asio::cancellation_type_t> pending_cancel_;
  std::chrono::steady_clock::time_point start_;
  std::exception_ptr error_;
  Result result_;
};

std::shared_ptr<AsyncPodmanOp> make_async_podman_op(const asio::any_io_executor& ex,
                                                    Completion<Result> completion) {
  return std::make_shared<AsyncPodmanOp>(ex, std::move(completion));
}

void start_async_podman_run(const std::shared_ptr<AsyncPodmanOp>& op, const std::vector<std::string>& argv,
                            const Options& options) {
  op->start(argv, options);
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
