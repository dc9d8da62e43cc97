// The engine: a state machine that supervises one child of `run`.
//
// It does no waiting of its own. A driver asks it what to wait for (the fds
// it still wants, the pidfd, the next deadline), waits in whatever way suits
// it (ppoll for the sync entry points, Asio for the async ones), and feeds the
// events back. Each handler does only non-blocking work. Once `done()` is
// true the child has been reaped, its group killed and every fd closed.
//
// Each output stream goes into a Sink the entry point chose (engine/sink.hpp): a
// bounded capture, or a capped line splitter with back-pressure. The drain
// after the exit goes into the same sink.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "engine/engine_options.hpp"
#include "engine/proc_memory.hpp"
#include "engine/sink.hpp"
#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

/// Scratch memory for reads from the pipes. Unlike a std::string it is
/// never zero-filled: with many runs in flight each run's first read (often
/// only the end of file) would otherwise clear and fault in 64 KiB.
class ReadBuffer {
 public:
  /// At least `n` bytes; what the buffer held is not kept when it grows.
  void make_room(std::size_t n) {
    if (n <= size_) return;
    data_ = std::make_unique_for_overwrite<char[]>(n);
    size_ = n;
  }
  char* data() noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

/// Told before the supervisor closes one of the fds it exposed, so that an
/// event loop holding the fd (an Asio descriptor, say) can let go of it first.
class FdCloseObserver {
 public:
  virtual void before_close(int fd) noexcept = 0;

 protected:
  ~FdCloseObserver() = default;
};

/// The shortest memory watchdog interval accepted.
inline constexpr Seconds kMinWatchdogInterval{0.010};

/// Throws std::invalid_argument for options that make no sense.
void validate_run_options(const EngineOptions& options);

/// The sink of a captured stream (`run`, `async_run`): its bounds from the
/// options.
inline Sink capture_sink(const EngineOptions& options) {
  return Sink::capture(options.max_output_size, options.tail);
}

class Supervisor {
 public:
  /// Validates (std::invalid_argument), spawns (std::system_error) and starts
  /// supervising, keeping stdout in `out` and stderr in `err`. `observer`
  /// may be null; it must outlive the supervisor.
  Supervisor(const std::vector<std::string>& argv, const EngineOptions& options, Sink out, Sink err,
             FdCloseObserver* observer = nullptr);
  /// As above, capturing both streams as `options` says (`run`).
  Supervisor(const std::vector<std::string>& argv, const EngineOptions& options,
             FdCloseObserver* observer = nullptr);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  /// If the run is not done: kill everything it contains, reap, close fds.
  ~Supervisor();

  pid_t pid() const noexcept { return child_.pid(); }
  Clock::time_point started() const noexcept { return child_.started(); }
  /// Whom the memory watchdog counts.
  Members members() const noexcept { return child_.members(); }

  // What to wait for. -1 means "not interested (any more)".
  int stdin_fd() const noexcept { return child_.stdin_pipe().get(); }
  int stdout_fd() const noexcept { return child_.stdout_pipe().get(); }
  int stderr_fd() const noexcept { return child_.stderr_pipe().get(); }
  /// Whether to wait for the readability of stdout (stderr) now: its fd is
  /// open and its sink is not paused (back-pressure).
  bool want_stdout() const noexcept { return child_.stdout_pipe() && !out_.paused(); }
  bool want_stderr() const noexcept { return child_.stderr_pipe() && !err_.paused(); }
  /// Readable once the child has exited (see on_child_exit).
  int pidfd() const noexcept { return child_.exit_fd(); }
  /// A deferred start (EngineOptions::defer_start) not yet reported:
  /// readable once it is; -1 otherwise. Wait for it first: until its
  /// report is taken the program may not have exec'd (its pid is 0).
  int start_fd() const noexcept { return child_.start_fd(); }
  /// The earliest deadline still pending (run deadline, stdin deadline).
  Clock::time_point next_deadline() const noexcept;
  /// The memory limit in KiB, when the watchdog is on.
  std::optional<std::uint64_t> memory_limit_kb() const noexcept { return memory_limit_kb_; }
  Clock::duration memory_watchdog_interval() const noexcept { return watchdog_interval_; }

  // Events.
  /// `start_fd` is readable: the program's pid is known from here on. A
  /// program that could not start is thrown as the spawn throws it
  /// (SpawnError), after the observer was told of every fd and everything
  /// of the run was reaped: the run is done, without a result.
  void on_start_report();
  void on_stdin_writable();
  void on_stdout_readable();
  void on_stderr_readable();
  /// The pidfd is readable: the child has exited. The run is done once
  /// everything it contains is gone too; if not yet, wait for the pidfd
  /// again (`done()` says). Throws std::system_error when its status cannot
  /// be known (everything is reaped then too).
  void on_child_exit();
  /// Time has reached `now`: handles whichever deadlines have passed.
  void on_time(Clock::time_point now);
  /// A watchdog sample. One that could not be taken kills the run (fails
  /// closed, reason watchdog_failed) rather than let it run unwatched.
  void on_memory_sample(const MemorySample& sample);
  /// Kills the group as cancelled (async cancellation). The run ends when
  /// the pidfd then reports the exit.
  void cancel();

  bool done() const noexcept { return done_; }
  /// True once the group was killed (timeout, memory, cancel): no more
  /// deadlines or samples are needed, only the pidfd.
  bool killed() const noexcept { return kill_reason_.has_value(); }
  /// The result; only once `done()`.
  Result take_result();
  /// If the run is not done: kill everything it contains, reap, close fds,
  /// and count it done without a result (a driver that could not conclude).
  void abandon() noexcept;

  /// The line queue of stdout's sink (null for a capture). Taking lines may
  /// re-open a paused stdout: the driver then asks `want_stdout` again.
  LineSplitter* stdout_lines() noexcept { return out_.lines(); }

 private:
  enum class Stream { out, err };
  void read_stream(Stream which);
  void grow_pipe(Stream which) noexcept;
  void close_fd(UniqueFd& fd) noexcept;
  void drain_after_exit();
  void stop_stdin(bool failed) noexcept;
  void kill_as(EndReason reason) noexcept;
  void release_fds() noexcept;
  void finish(const ExitInfo& info);

  FdCloseObserver* observer_;
  Child child_;
  Sink out_;
  Sink err_;
  std::string stdin_data_;
  std::size_t stdin_written_ = 0;
  Clock::time_point deadline_;
  std::optional<Clock::time_point> stdin_deadline_;
  std::optional<std::uint64_t> memory_limit_kb_;
  Clock::duration watchdog_interval_{};
  std::optional<EndReason> kill_reason_;  // set once we killed the group
  bool stdin_failed_ = false;
  int watchdog_error_ = 0;  // the errno of a sample that could not be taken
  bool done_ = false;
  bool pipe_grown_[2] = {false, false};  // stdout, stderr
  bool splice_ok_ = true;                // false once splice(2) to /dev/null proved unsupported
  UniqueFd devnull_;                     // opened lazily, to splice discarded bytes into
  ReadBuffer scratch_;                   // read buffer, grown on demand
  Result result_;
};

}  // namespace bounded_subprocess::detail
