// One run of bounded-run (the single command and each batch job): reads the
// stdin file if there is one, then runs the program (`async_run`) on the host
// or in a container (`Options::container`), all on one Asio event loop, and
// can be cancelled at any point.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bounded_subprocess/result.hpp"
#include "fd_source.hpp"
#include "run_spec.hpp"

namespace bounded_subprocess::cli {

/// The most bytes a stdin file may hold (it is passed to the library as
/// stdin data, so it is held in memory while the run lasts).
inline constexpr std::size_t kStdinFileLimit = std::size_t{64} << 20;

class Launch : public std::enable_shared_from_this<Launch> {
 public:
  /// `error` is null when the run happened (whatever its outcome); else it
  /// holds why it could not (std::invalid_argument for bad options,
  /// std::system_error when the program or podman cannot start, or when the
  /// stdin file cannot be opened for lack of fds or memory, UsageError for an
  /// unreadable or too large stdin file).
  using Done = std::function<void(std::exception_ptr error, Result result)>;

  /// Starts the run of `spec` on `ex`. `done` is called exactly once, from
  /// the event loop, never from within this call.
  ///
  /// The stdin file (`spec.stdin_file`) is read first, inside the run's
  /// deadline and without blocking the loop: at most kStdinFileLimit bytes
  /// (more is an error), and a source that has not reached its end when
  /// `spec.timeout` passes (a FIFO nobody writes, an endless pipe) ends the
  /// run as a timeout (`timeout`, `stdin_write_failed`, exit_code -1)
  /// without starting the program. The program then gets what is left of
  /// the deadline, and `elapsed` counts from the start of the read.
  static std::shared_ptr<Launch> start(const asio::any_io_executor& ex, RunSpec spec, Done done);

  Launch(const asio::any_io_executor& ex, RunSpec spec, Done done);
  Launch(const Launch&) = delete;
  Launch& operator=(const Launch&) = delete;

  /// Stops the run now: while the stdin file is read, the read stops and the
  /// result is `cancelled` (nothing was started); while the program runs, its
  /// group is killed and reaped and the result is `cancelled` with the output
  /// read so far. Idempotent; nothing happens once the run has ended.
  void cancel();

  /// True once the program (or podman) was started: an error after that is
  /// the supervision's, and the program may have done part of its work.
  bool program_started() const { return program_started_; }

 private:
  void begin();
  void read_more();
  void read_done(std::exception_ptr error);
  void run_program(std::optional<std::string> stdin_bytes, double timeout);
  void finish(std::exception_ptr error, Result result);
  Result unstarted(EndReason reason) const;

  asio::any_io_executor ex_;
  RunSpec spec_;
  Done done_;
  std::chrono::steady_clock::time_point started_;
  asio::steady_timer deadline_;
  std::unique_ptr<FdSource> source_;
  std::string stdin_bytes_;
  asio::cancellation_signal cancel_run_;
  enum class Phase { reading, running, finished } phase_ = Phase::reading;
  bool timed_out_ = false;
  bool program_started_ = false;
};

}  // namespace bounded_subprocess::cli
