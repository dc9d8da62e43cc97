// Line streams: the stdout of a local process, line by line, as it arrives.
//
// This header holds the options and the synchronous face
// (`run_stream_lines`, a callback per line). It needs no Asio. The async
// face (`LineStream`, `open_line_stream`, `async_next`) is in
// bounded_subprocess/async.hpp. Both are bounded as CONTRACT.md section 3
// says, and both end the same way:
//
//  - the direct child exits: the bytes already in its stdout pipe are read
//    and yielded, then its whole process group gets SIGKILL (so a grandchild
//    that holds the pipe open neither outlives the stream nor keeps it open);
//  - the deadline (`timeout`, from the spawn) passes: the group gets SIGKILL,
//    the result says `timeout`, the lines already read are still yielded;
//  - the memory watchdog fires (`memory_limit_mb`);
//  - the caller stops (callback returns false, `LineStream::close()`, or
//    destroying the `LineStream`): the group gets SIGKILL, the child is
//    reaped, the result's reason is `EndReason::cancelled`.
//
// Lines are raw bytes (`std::string`, not decoded), without the '\n'. A
// final line without '\n' at EOF is yielded too (the seed's podman stream
// does the same through asyncio's readline). A '\r' before the '\n' is kept.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess {

/// Options of `run_stream_lines` and `open_line_stream`. Plain aggregate:
///
///   run_stream_lines(argv, {.timeout = 5s, .max_line_size = 1024}, on_line);
///
/// Bounds that make no sense (a timeout that is not positive, a
/// max_line_size of 0, a memory limit of 0) throw `std::invalid_argument`
/// before anything is spawned.
struct StreamOptions {
  /// One wall-clock deadline from the spawn; at the deadline the group gets
  /// SIGKILL and the stream ends (`Result::timeout`).
  Seconds timeout{15.0};
  /// Cap on one line: when a line grows past it before its '\n' arrives, its
  /// older bytes are dropped, so a yielded line holds at most this many bytes
  /// (its last ones). Must be at least 1.
  std::size_t max_line_size = 64 * 1024;
  /// stderr is drained all along; at most this many of its *last* bytes are
  /// kept, in `Result::err`.
  std::size_t stderr_max_output_size = 2048;
  /// Replaces the child's environment when set (see `inherited_env()`).
  std::optional<Environment> env{};
  /// Written to the child's stdin (while lines are read) and then closed;
  /// stdin is /dev/null when absent.
  std::optional<std::string> stdin_data{};
  /// Bound on writing `stdin_data` (as in `RunOptions`).
  Seconds stdin_write_timeout{15.0};
  /// Working directory of the child; the host's when absent.
  std::optional<std::string> cwd{};
  /// Memory watchdog, as in `RunOptions`.
  std::optional<std::size_t> memory_limit_mb{};
  Seconds memory_watchdog_interval{1.0};
  /// How every descendant is kept in the run: see `RunOptions::containment`.
  std::optional<Containment> containment{};
  Containment min_containment = Containment::process_group;
};

/// Hooks for faces built on a line stream (the podman stream uses this to
/// remove its container).
struct StreamHooks {
  /// Called exactly once, on the stream's executor (for the sync face: inside
  /// `run_stream_lines`), after the child has been reaped, whatever ended the
  /// stream (end of output, deadline, memory limit, `close()`, destruction of
  /// the `LineStream`). It may adjust `result` (valid until `done` is called)
  /// and must call `done()` exactly once, from any thread, when its extra
  /// work (which may be asynchronous, e.g. another `async_run`) is over.
  /// Until then the stream does not report its end: `async_next` does not
  /// complete with `asio::error::eof`, `finished()` is false and the sync
  /// `run_stream_lines` does not return. If the hook throws (and then `done`
  /// must not be called), `async_next` completes once with an error code
  /// before `eof` (a `std::system_error`'s own code, else
  /// `errc::end_hook_failed`), and `run_stream_lines` throws the exception.
  std::function<void(Result& result, std::function<void()> done)> on_end;
};

/// The sync face: runs `argv` and calls `on_line` with each stdout line
/// (without its '\n') as it arrives, on the calling thread. When `on_line`
/// returns false the process group is killed at once (the result's reason is
/// `EndReason::cancelled`, exit_code -1) and no further line is delivered.
/// Returns once the child has been reaped and the group killed.
///
/// The result: `exit_code`, `reason`, `timeout`, `memory_limit_exceeded`,
/// `stdin_write_failed`, `elapsed` and `usage` as for `run`; `err` holds the
/// last `stderr_max_output_size` bytes of stderr; `out.data` is empty (the
/// lines went to `on_line`), `out.total_bytes` counts every stdout byte and
/// `out.truncated` is true when at least one line was cut to max_line_size.
///
/// Errors: `std::invalid_argument` for bad options or argv (nothing is
/// spawned); `std::system_error` naming the program when it cannot start;
/// an exception thrown by `on_line` kills the group, reaps the child and is
/// rethrown. No error path leaks a process, an fd or a zombie.
///
/// Thread safety: may be called from many threads at once (each call waits
/// with ppoll on its own thread; no Asio).
Result run_stream_lines(const std::vector<std::string>& argv, const StreamOptions& options,
                        const std::function<bool(std::string_view line)>& on_line, StreamHooks hooks = {});

}  // namespace bounded_subprocess
