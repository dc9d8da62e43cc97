// Internal: the non-blocking steps of `Interactive` for the Python package,
// whose asyncio entry point drives the object from its own event loop: wait
// for a descriptor with the loop, then take a step. Not installed and not
// part of the C++ API (python/src includes it from the source tree). Steps
// never block; the same thread rules as Interactive's write, read_line and
// close.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "bounded_subprocess/interactive.hpp"

namespace bounded_subprocess::detail {

struct InteractiveAccess {
  /// The descriptors to wait on: the child's stdin (writable), its stdout
  /// (readable) and the end's (readable once the program has exited; if
  /// the rest of the run is still being ended then, `is_running()` says so
  /// and it turns readable again when that is done). Owned by the object;
  /// -1 once closed (or moved from).
  static int stdin_fd(const Interactive& proc) noexcept;
  static int stdout_fd(const Interactive& proc) noexcept;
  static int pidfd(const Interactive& proc) noexcept;
  /// A pidfd whose SIGKILL ends the run, for another thread (Python's exit
  /// hooks): see Child::kill_pidfd. -1 once closed.
  static int kill_pidfd(const Interactive& proc) noexcept;
  /// Writes what the pipe takes now of `data` from `offset`, advancing
  /// `offset`. False once no write can work any more (broken pipe, object
  /// closed); true otherwise: done when `offset == data.size()`, else wait
  /// for stdin_fd(). Never raises SIGPIPE (as `write`).
  static bool write_some(Interactive& proc, std::string_view data, std::size_t& offset);
  /// The next line, reading only what is in the pipe now (with `read_pipe`
  /// false, only what was read before: no system call). No value: none yet
  /// (wait for stdout_fd()), or, with `eof` set, none ever again.
  static std::optional<std::string> read_line_now(Interactive& proc, bool& eof, bool read_pipe = true);
  /// Closes the pipes (the child sees EOF on stdin); `close` then reaps,
  /// killing first if the child has not exited. Idempotent.
  static void close_pipes(Interactive& proc);
};

}  // namespace bounded_subprocess::detail
