// The interactive entry point: a long-lived child spoken to line by line.
//
//   using namespace std::chrono_literals;
//   bounded_subprocess::Interactive proc({"python3", "-iu"});
//   proc.write("print(1 + 2)\n", 1s);
//   std::optional<std::string> line = proc.read_line(1s);  // "3"
//   int code = proc.close(1s);
//
// The async twin (Asio completion tokens) is in async_interactive.hpp; this
// header does not include Asio.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess {

namespace detail {
struct InteractiveSync;    // the state behind Interactive (src/interactive/interactive.cpp)
struct InteractiveAccess;  // the Python package's non-blocking steps; not part of the API
}  // namespace detail

/// What `Interactive::write` did, told as `AsyncInteractive::async_write`
/// tells it: the same error codes and the bytes written.
struct WriteResult {
  /// Empty once every byte is in the pipe. Else Asio's values, as
  /// `async_write` completes with them (system category, so each also
  /// compares equal to its `std::errc`): `timed_out` (a prefix may have been
  /// written), `broken_pipe` (the child had exited or exits while we wait, or
  /// closed its stdin), `operation_aborted` (the object was closed, also from
  /// another thread; `std::errc::operation_canceled`); a system error if the
  /// wait itself failed.
  std::error_code error;
  /// How many bytes of `data` are in the pipe: all of them without an error.
  std::size_t written = 0;
  /// True when every byte was written.
  explicit operator bool() const noexcept { return !error; }
};

/// A child process with piped stdin and stdout (stderr is inherited), in its
/// own session and process group, read line by line.
///
/// No method ever sleeps: waits are ppoll(2) on the pipe and on the child's
/// pidfd with the exact deadline, so a line is returned as soon as it arrives.
/// Writing to a child that has gone yields `false`, never SIGPIPE in the host,
/// and the host's signal dispositions are never changed (SIGPIPE is blocked in
/// the calling thread for the duration of a write, and a SIGPIPE raised by
/// that write is consumed before the mask is restored).
///
/// Lifetime: the object owns the child. `close` ends it; the destructor of an
/// object that was not closed SIGKILLs the whole group and reaps the child
/// (blocking for the moment the kernel needs to tear a killed process down),
/// so no process and no zombie is left. Move-only; a moved-from object may be
/// destroyed or assigned to, any other use throws std::logic_error.
///
/// Thread safety: one object may be used by two threads at once as one
/// writer (`write`) and one reader (`read_line`), and `close` may be called
/// from any thread at any time: it interrupts a pending `write` (false) and
/// `read_line` (no value) at once, then closes. Moves and destruction must
/// not overlap any other call. Distinct objects are independent.
class Interactive {
 public:
  /// Starts `argv` (argv[0] looked up in PATH, the child's PATH when
  /// `options.env` sets one).
  ///
  /// Options (see the table in options.hpp): `max_line_size` (4096 by
  /// default), `env`, `cwd`, `containment`, `min_containment` and
  /// `on_interrupt`. Rejected: `timeout`, `max_output_size`, `tail`,
  /// `stdin_data`, `stdin_write_timeout` (each call takes its own timeout;
  /// stdin is `write`'s), `memory_limit_mb`, `memory_watchdog_interval` (no
  /// watchdog) and `container` (not implemented).
  ///
  /// Errors: std::invalid_argument (nothing spawned) for a field this entry point
  /// does not use (the message names it), an empty argv or program, a NUL in
  /// an argument, a bad environment name, an empty cwd or `max_line_size` 0;
  /// std::system_error, naming the program (or the cwd), when it cannot be
  /// started. Nothing is leaked on either path.
  explicit Interactive(std::vector<std::string> argv, Options options = {});
  /// Kills the group and reaps the child unless `close` was called.
  ~Interactive();
  Interactive(Interactive&& other) noexcept;
  /// Kills and reaps the child this object owned (unless closed), then
  /// takes over `other`'s.
  Interactive& operator=(Interactive&& other) noexcept;
  Interactive(const Interactive&) = delete;
  Interactive& operator=(const Interactive&) = delete;

  /// Writes all of `data` to the child's stdin, waiting at most `timeout`
  /// for the pipe to take it. The result is true once every byte is in the
  /// pipe; false, with its `error`, if the child had already exited, exits
  /// while we wait or closed its stdin (`broken_pipe`), the object was
  /// closed (`operation_aborted`), or the timeout passed first (`timed_out`;
  /// `written` says how much of `data` is in the pipe). A zero timeout writes
  /// what fits at once. Errors: std::invalid_argument for a negative or NaN
  /// timeout.
  WriteResult write(std::string_view data, Seconds timeout);

  /// The next line of the child's stdout without its '\n', waiting at most
  /// `timeout`. No value on timeout, at EOF, or after `close`. Data read
  /// before a timeout stays buffered for the next call; a partial line at EOF
  /// is dropped; a line longer than `max_line_size` keeps its newest
  /// bytes. A zero timeout only takes what is already there. Errors:
  /// std::invalid_argument for a negative or NaN timeout.
  std::optional<std::string> read_line(Seconds timeout);

  /// Closes the pipes (the child sees EOF on stdin), waits up to
  /// `nice_timeout` for the child to exit, then SIGKILLs its group; in every
  /// case the rest of the group is killed and the child reaped. Returns the
  /// exit status, or minus the signal number that ended it (-9 when it had
  /// to be killed). Calling it again returns the same code. Errors:
  /// std::invalid_argument for a negative or NaN timeout.
  int close(Seconds nice_timeout);

  /// The child's pid (also its process group id). After `close` it names
  /// no process of ours.
  pid_t pid() const noexcept;

  /// How the child's descendants are contained (see Containment).
  Containment containment() const noexcept;
  /// True until the child has exited (or been closed). Does not reap.
  bool is_running() const noexcept;
  /// The code `close` returned, once it has been called.
  std::optional<int> exit_code() const noexcept;
  /// The isolation limits the run ran into (`Options::isolation`; see
  /// LimitsHit), once `close` has returned; no value before. A child killed
  /// at its CPU limit closes with -9 and `cpu` set.
  std::optional<LimitsHit> limits_hit() const noexcept;

 private:
  friend struct detail::InteractiveAccess;
  detail::InteractiveSync& state(const char* where) const;

  std::unique_ptr<detail::InteractiveSync> state_;
};

}  // namespace bounded_subprocess
