// bounded-run's own signal handling. bounded-run owns its process, so it may
// set dispositions; the library never does.
#pragma once

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <functional>

namespace bounded_subprocess::cli {

/// Resets SIGCHLD to its default disposition. A parent that ignores SIGCHLD
/// passes SIG_IGN on across exec, and with it the kernel reaps bounded-run's
/// children by itself, so their exit status would be lost (every run would
/// report exit code 0). Call first thing in main.
void reset_inherited_signals() noexcept;

/// The signals that stop a run or a batch: SIGTERM, SIGINT, SIGHUP, SIGQUIT.
/// Each is caught unless bounded-run was started with it ignored (as by
/// `nohup`, or a shell's background job for SIGINT and SIGQUIT): an ignored
/// signal stays ignored. Delivery goes through Asio's signal_set (a self
/// pipe in the event loop), so nothing polls.
class StopSignals {
 public:
  explicit StopSignals(asio::io_context& io);
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  /// Restores the default dispositions.
  ~StopSignals();

  /// Calls `on_signal(signo)` for each caught signal until stop().
  void watch(std::function<void(int)> on_signal);
  /// Stops watching and restores the default dispositions: a signal that
  /// arrives later ends bounded-run as it would have without handlers.
  void stop() noexcept;

 private:
  void wait_next();

  asio::signal_set set_;
  std::function<void(int)> on_signal_;
  bool stopped_ = false;
};

}  // namespace bounded_subprocess::cli
