// async_run: the Asio driver of the engine, completing an erased handler.
#include <exception>
#include <memory>
#include <utility>

#include "bounded_subprocess/async.hpp"
#include "drivers/async_driver.hpp"
#include "engine/face_options.hpp"
#include "engine/supervisor.hpp"
#include "podman/podman_command.hpp"
#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

class AsyncRunOp final : public AsyncDriver {
 public:
  using AsyncDriver::AsyncDriver;

  Completion<Result> completion;

 private:
  void on_finished(std::exception_ptr error, Result result) override {
    if (completion) completion(std::move(error), std::move(result));
  }
};

void validate_async_run(const std::vector<std::string>& argv, const Options& options) {
  if (options.container) {
    (void)checked_client_options(argv, options, Face::async_run);
    return;
  }
  validate_command(argv, options.env, options.cwd);
  (void)run_settings(options, Face::async_run);
}

std::shared_ptr<AsyncRunOp> make_async_run_op(const asio::any_io_executor& ex) {
  return std::make_shared<AsyncRunOp>(ex);
}

void start_async_run(const std::shared_ptr<AsyncRunOp>& op, const std::vector<std::string>& argv,
                     const Options& options, Completion<Result> completion) {
  try {
    op->spawn(argv, run_settings(options, Face::async_run));
  } catch (...) {
    // Delivered, never thrown: the handler is posted to its executor.
    completion(std::current_exception(), Result{});
    return;
  }
  op->completion = std::move(completion);
  op->start();
}

void cancel_async_run(const std::weak_ptr<AsyncRunOp>& op) noexcept {
  if (auto p = op.lock()) p->cancel_async();
}

}  // namespace bounded_subprocess::detail
