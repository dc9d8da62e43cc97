// Line streams: the stdout of a process, line by line, as it arrives.
//
// This header holds the synchronous entry point (`run_stream_lines`, a callback
// per line). It needs no Asio. The async
// entry point (`LineStream`, `open_line_stream`, `async_next`) is in
// bounded_subprocess/async.hpp. Both are bounded the same way (docs/cpp-api.md),
// and both end the same way:
//
//  - the direct child exits: the bytes already in its stdout pipe are read
//    and yielded, then its whole process group gets SIGKILL (so a grandchild
//    that holds the pipe open neither outlives the stream nor keeps it open);
//  - the deadline (`timeout`, from the spawn) passes: the group gets SIGKILL,
//    the result says `timeout`, the lines already read are still yielded;
//  - the memory watchdog fires (`memory_limit_mb`);
//  - in a container (`Options::container`), the podman client's end, then
//    the container is removed before the stream reports its end;
//  - the caller stops (callback returns false, `LineStream::close()`, or
//    destroying the `LineStream`): the group gets SIGKILL, the child is
//    reaped, the result's reason is `EndReason::cancelled`.
//
// Lines are raw bytes (`std::string`, not decoded), without the '\n'. A
// final line without '\n' at EOF is yielded too (the original Python library's podman stream
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

/// The sync entry point: runs `argv` (on the host, or in `options.container` as
/// `run` does) and calls `on_line` with each stdout line (without its '\n')
/// as it arrives, on the calling thread. When `on_line` returns false the
/// run is killed at once (the result's reason is `EndReason::cancelled`,
/// exit_code -1) and no further line is delivered. Returns once the child
/// has been reaped, everything it contains killed and (in a container) the
/// container removed.
///
/// The result: `exit_code`, `reason`, `timeout`, `memory_limit_exceeded`,
/// `stdin_write_failed`, `elapsed` and `usage` as for `run`; `err` holds the
/// last `max_output_size` bytes of stderr (2048 by default); `out.data` is
/// empty (the lines went to `on_line`), `out.total_bytes` counts every
/// stdout byte and `out.truncated` is true when at least one line was cut to
/// `max_line_size` (65536 by default).
///
/// Options: see the table in options.hpp. Rejected here: `tail = false`
/// (the last bytes of stderr are kept), `on_interrupt` (not offered by this
/// entry point: only `run` and `Interactive` report interrupted waits); with a
/// container, `memory_limit_mb` and `memory_watchdog_interval`.
///
/// Errors: `std::invalid_argument` for a field this entry point does not use (the
/// message names it), bad bounds or argv (nothing is spawned);
/// `std::system_error` naming the program (or podman) when it cannot start;
/// an exception thrown by `on_line` kills the run, reaps the child, removes
/// the container and is rethrown. In a container, a cleanup that failed is
/// in the result's `cleanup_error` (as for `run`). No error path leaks a process, an fd or a
/// zombie.
///
/// Thread safety: may be called from many threads at once (each call waits
/// with ppoll on its own thread; no Asio).
Result run_stream_lines(const std::vector<std::string>& argv, const Options& options,
                        const std::function<bool(std::string_view line)>& on_line);

}  // namespace bounded_subprocess
