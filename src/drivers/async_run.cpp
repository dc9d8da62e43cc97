// async_run: the Asio driver of the engine, completing an erased handler
// with `void(std::error_code, Result)`.
#include <asio/error.hpp>

#include <exception>
#include <memory>
#include <utility>

#include "bounded_subprocess/async.hpp"
#include "drivers/async_driver.hpp"
#include "engine/entry_options.hpp"
#include "engine/error.hpp"
#include "engine/supervisor.hpp"
#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

class AsyncRunOp final : public AsyncDriver {
 public:
  using AsyncDriver::AsyncDriver;

  Completion<Result> completion;
  LateStartError late;

 private:
  void on_start_failed(std::exception_ptr error) override {
    if (late) late(error);
    on_finished(std::move(error), Result{});
  }

  void on_finished(std::exception_ptr error, Result result) override {
    if (!completion) return;
    std::error_code ec = error_code_of(error);
    // A cancelled run is reported as Asio reports it, with its Result.
    if (!ec && result.reason == EndReason::cancelled) ec = asio::error::operation_aborted;
    completion(ec, std::move(result));
  }
};

std::shared_ptr<AsyncRunOp> spawn_async_run(const asio::any_io_executor& ex,
                                            const std::vector<std::string>& argv, const Options& options,
                                            LateStartError late) {
  auto op = std::make_shared<AsyncRunOp>(ex);
  EngineOptions settings = run_settings(options, EntryPoint::async_run);
  settings.defer_start = late != nullptr;
  op->late = std::move(late);
  // On failure nothing is left: the driver released everything.
  op->spawn(argv, settings);
  return op;
}

void start_async_run(const std::shared_ptr<AsyncRunOp>& op, Completion<Result> completion) {
  op->completion = std::move(completion);
  op->start();
}

void cancel_async_run(const std::weak_ptr<AsyncRunOp>& op, const NoCancelKey&,
                      asio::cancellation_type_t) noexcept {
  if (auto p = op.lock()) p->cancel_async();
}

}  // namespace bounded_subprocess::detail
