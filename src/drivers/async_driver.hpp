// The Asio driver of the engine: feeds one detail::Supervisor from
// asio::posix::stream_descriptor waits (stdin, stdout, stderr, pidfd), a
// steady_timer for its deadlines and the shared memory watchdog. Everything
// happens on one strand, so a multi-threaded io_context is safe. It drives
// any sink: it asks the Supervisor which fds it wants (a paused line sink is
// left out). Subclasses (async_run, the line stream) decide what to do with
// the lines and the result; how bytes are kept is the sinks' business.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "engine/supervisor.hpp"

namespace bounded_subprocess::detail {

class AsyncDriver : public std::enable_shared_from_this<AsyncDriver>, private FdCloseObserver {
 public:
  using Strand = asio::strand<asio::any_io_executor>;

  explicit AsyncDriver(const asio::any_io_executor& ex);
  AsyncDriver(const AsyncDriver&) = delete;
  AsyncDriver& operator=(const AsyncDriver&) = delete;
  /// Kills the group and reaps the child if the run is not over.
  virtual ~AsyncDriver();

  const Strand& strand() const noexcept { return strand_; }

  /// Spawns the child (throws like the Supervisor: std::invalid_argument,
  /// std::system_error), keeping stdout in `out` and stderr in `err`. Call
  /// once, from any thread, before `start`.
  void spawn(const std::vector<std::string>& argv, const EngineOptions& options, Sink out, Sink err);
  /// As above, capturing both streams as `options` says.
  void spawn(const std::vector<std::string>& argv, const EngineOptions& options);
  /// Begins supervising: registers with the watchdog and posts the first
  /// waits to the strand.
  void start();
  /// Thread-safe: posts a cancellation (SIGKILL to the group, reason
  /// cancelled) to the strand.
  void cancel_async() noexcept;

  pid_t pid() const noexcept { return pid_; }

 protected:
  /// On the strand, once, when the child has been reaped: the run's result,
  /// or the error (bad_alloc, say) that made the driver kill the group.
  virtual void on_finished(std::exception_ptr error, Result result) = 0;
  /// On the strand, once, instead of `on_finished`, when a deferred start
  /// (EngineOptions::defer_start) failed: the exception the spawn would have
  /// thrown. Everything of the run is reaped by then.
  virtual void on_start_failed(std::exception_ptr error) { on_finished(std::move(error), Result{}); }
  /// On the strand, after each event while the run goes on, before the
  /// waits are re-armed (a line entry point hands over the lines that completed).
  virtual void on_progress() {}

  /// On the strand: re-arms the waits, or finishes once the run is over.
  /// Call it after taking lines from a paused sink, so that reading resumes.
  void step();
  /// On the strand (or from the owner while the executor is not running):
  /// SIGKILL the group as cancelled and reap the child now, blocking until
  /// the killed child is gone (milliseconds). Finishes the run.
  void kill_and_finish_now();

  bool over() const noexcept { return finished_; }
  Supervisor& sup() noexcept { return *sup_; }

 private:
  struct Watch {
    asio::posix::stream_descriptor desc;
    bool waiting = false;
    explicit Watch(const Strand& s) : desc(s) {}
  };

  void before_close(int fd) noexcept override;
  void arm(Watch& w, asio::posix::stream_descriptor::wait_type type, void (AsyncDriver::*on_ready)());
  void arm_timer();
  /// The run is over for the driver: no more waits, the watchdog and the
  /// timer let go, every fd released to the Supervisor.
  void stop_waiting();
  void finish();
  void release_all() noexcept;

  void start_reported();
  void stdin_ready() { sup_->on_stdin_writable(); }
  void stdout_ready() { sup_->on_stdout_readable(); }
  void stderr_ready() { sup_->on_stderr_readable(); }
  void child_exited() { sup_->on_child_exit(); }

  Strand strand_;
  std::optional<Supervisor> sup_;
  pid_t pid_ = -1;
  Watch in_;
  Watch out_;
  Watch err_;
  Watch pidfd_;
  Watch start_;  ///< a deferred start's report
  asio::steady_timer timer_;
  bool timer_waiting_ = false;
  std::uint64_t timer_gen_ = 0;
  Clock::time_point timer_due_ = Clock::time_point::max();
  std::uint64_t watchdog_key_ = 0;
  class MemoryWatchdog* watchdog_ = nullptr;
  bool finished_ = false;
  std::exception_ptr error_;
};

}  // namespace bounded_subprocess::detail
