#include "single_run.hpp"

#include <unistd.h>

#include <asio/io_context.hpp>

#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include "launch.hpp"
#include "report.hpp"
#include "signals.hpp"

namespace bounded_subprocess::cli {

namespace {

// Writes the report; false (with errno) when a write failed.
bool write_report(const CliConfig& config, const Result& result, int cancel_signal) {
  if (config.json) return write_all(STDOUT_FILENO, result_to_json(result, cancel_signal) + "\n");
  const bool out = write_all(STDOUT_FILENO, result.out.data);
  const int out_errno = errno;
  const bool err = write_all(STDERR_FILENO, result.err.data);
  if (!out) errno = out_errno;
  return out && err;
}

}  // namespace

int run_single(const CliConfig& config) {
  asio::io_context io(1);
  StopSignals signals(io);
  std::exception_ptr error;
  std::optional<Result> result;
  int cancel_signal = 0;

  auto launch = Launch::start(io.get_executor(), config.settings.spec, [&](std::exception_ptr e, Result r) {
    error = std::move(e);
    result = std::move(r);
    signals.stop();
  });
  signals.watch([&](int signo) {
    if (cancel_signal == 0) cancel_signal = signo;
    launch->cancel();
  });
  io.run();
  signals.stop();
  if (error) std::rethrow_exception(error);

  const bool cancelled = result->reason == EndReason::cancelled && cancel_signal > 0;
  if (!write_report(config, *result, cancel_signal) && !cancelled) {
    const std::string message = std::string("bounded-run: cannot write the ") +
                                (config.json ? "result" : "output") + ": " + std::strerror(errno) + "\n";
    write_all(STDERR_FILENO, message);
    return 125;
  }
  if (cancelled) return 128 + cancel_signal;
  if (!config.json && result->reason == EndReason::watchdog_failed) {
    write_all(STDERR_FILENO, std::string("bounded-run: the memory watchdog could not measure the run (") +
                                 std::strerror(result->watchdog_error) + "), so it was killed\n");
    return 125;
  }
  if (!config.json && result->reason == EndReason::containment_broken) {
    write_all(
        STDERR_FILENO,
        "bounded-run: the run's containment was broken (its init was killed from inside the run); every "
        "process of the run that could be found was killed\n");
    return 125;
  }
  return config.json ? 0 : exit_status(*result);
}

}  // namespace bounded_subprocess::cli
