// The engine part that both Interactive entry points share: one child with piped
// stdin/stdout and a pidfd, non-blocking write and read steps, the line
// splitter, and the end of the child (close pipes, reap, kill the group). The
// entry points add the waiting: ppoll for the sync one, Asio for the async one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/detail/interactive_timeout.hpp"
#include "bounded_subprocess/interactive.hpp"
#include "engine/entry_options.hpp"
#include "engine/line_splitter.hpp"
#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

/// Outcome of one non-blocking write step.
enum class WriteStep {
  done,         ///< every byte is in the pipe
  would_block,  ///< the pipe is full: wait for POLLOUT (or the child's exit)
  failed,       ///< broken pipe, stdin closed, or another error
};

/// Outcome of one non-blocking read step.
enum class ReadStep {
  line,         ///< a complete line is buffered: pop_line()
  would_block,  ///< nothing to read now: wait for POLLIN
  more,         ///< read a budget's worth without a line: check the clock, call again
  eof,          ///< the pipe reached EOF (or failed) and no complete line is left
};

/// now + timeout on the steady clock, clamped (infinite -> time_point::max()).
std::chrono::steady_clock::time_point interactive_deadline(Seconds timeout);

class InteractiveCore {
 public:
  /// Validates and spawns (see Interactive's constructor for the errors).
  InteractiveCore(const std::vector<std::string>& argv, const InteractiveSettings& options);
  /// Kills everything the child contains and reaps it (Child's destructor).
  ~InteractiveCore() = default;
  InteractiveCore(const InteractiveCore&) = delete;
  InteractiveCore& operator=(const InteractiveCore&) = delete;

  pid_t pid() const noexcept { return child_.pid(); }
  /// See Child::direct_pid.
  pid_t direct_pid() const noexcept { return child_.direct_pid(); }
  int stdin_fd() const noexcept { return child_.stdin_pipe().get(); }
  int stdout_fd() const noexcept { return child_.stdout_pipe().get(); }
  int pidfd() const noexcept { return child_.exit_fd(); }
  /// See Child::kill_pidfd.
  int kill_pidfd() const noexcept { return child_.kill_pidfd(); }
  Containment containment() const noexcept { return child_.containment(); }
  std::optional<int> exit_code() const noexcept { return exit_code_; }
  bool finished() const noexcept { return exit_code_.has_value(); }
  /// The limits the run ran into, once it is finished.
  std::optional<LimitsHit> limits_hit() const noexcept {
    return exit_code_ ? std::optional<LimitsHit>(limits_) : std::nullopt;
  }

  /// True once the run is over (Child::exited: the pidfd is readable and
  /// nothing else of the run is left), or was reaped. Never blocks.
  bool child_exited() noexcept;

  /// Writes `data` from `offset` on, advancing `offset`, until done or the
  /// pipe is full. SIGPIPE is blocked in this thread meanwhile and one that
  /// the write raised is consumed. Thread safety: only touches stdin.
  WriteStep write_some(std::string_view data, std::size_t& offset);

  /// Reads stdout until a line is complete, the pipe is empty, EOF, or a
  /// budget of bytes has been read. Thread safety: only touches stdout and
  /// the line buffer.
  ReadStep read_some();
  /// What read_some would return without reading: line, eof, or would_block.
  ReadStep buffered() const noexcept;
  /// Bytes read from stdout by someone else (the async entry point's reads).
  void feed(std::string_view bytes);
  /// stdout reached EOF (or failed): the partial line is dropped.
  void mark_eof() noexcept;
  std::optional<std::string> pop_line() { return lines_.pop_line(); }

  /// Closes stdin and stdout (the child sees EOF and, writing, EPIPE).
  void close_pipes() noexcept;
  /// For a child that has exited: kills the rest of what it contains, reaps
  /// it and records the code. Returns the code. Throws std::system_error
  /// when the status cannot be known (everything is reaped then too).
  int reap_exited();
  /// Sends SIGKILL to everything the child contains; returns at once.
  void kill() noexcept { child_.kill(); }
  /// Kills everything, reaps the child (blocking until the kernel has torn
  /// it down) and records the code. Returns the code.
  int kill_and_reap_now() noexcept;

 private:
  int record(const ExitInfo& info) noexcept;

  Child child_;
  LineSplitter lines_;
  bool stdin_failed_ = false;
  bool eof_ = false;
  std::optional<int> exit_code_;
  LimitsHit limits_{};
};

}  // namespace bounded_subprocess::detail
