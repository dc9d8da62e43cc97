// How bounded-run reports a finished run: as JSON (the same object for
// `bounded-run --json` and for every line of `bounded-run batch`), or like
// coreutils `timeout` (the captured bytes on its own stdout/stderr, the
// child's status).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::cli {

/// The result as one JSON object with the fields, in this order:
/// exit_code, timeout, stdout, stderr, memory_limit_exceeded,
/// stdin_write_failed, stdout_truncated, stderr_truncated, elapsed_seconds,
/// reason, signal, stdout_total_bytes, stderr_total_bytes,
/// user_cpu_seconds, system_cpu_seconds, cpu_seconds (their sum),
/// max_rss_kb and cancel_signal (the signal that made bounded-run cancel the
/// run, 0 when it was not cancelled). stdout and stderr are the captured
/// bytes decoded as UTF-8 with invalid bytes dropped.
///
/// Errors: none beyond std::bad_alloc. Thread safety: pure function.
nlohmann::ordered_json result_json(const Result& result, int cancel_signal);

/// `result_json(...)` as text, without a trailing newline.
std::string result_to_json(const Result& result, int cancel_signal = 0);

/// The exit status of bounded-run without --json, in the style of coreutils
/// `timeout`, first match wins: 128+cancel_signal for a run bounded-run
/// cancelled on a signal; 124 on timeout; 137 after a memory kill; 128+N
/// when signal N ended the program; 255 when the stdin data could not all be
/// written (the library reports exit_code -1 then, and -1 as an 8-bit status
/// is 255); otherwise the program's own exit status.
///
/// Thread safety: pure function.
int exit_status(const Result& result, int cancel_signal = 0) noexcept;

/// Writes `data` to `fd` in full, retrying on EINTR and short writes.
/// Returns false with errno set if the fd refused it (ENOSPC on /dev/full,
/// EPIPE when SIGPIPE is ignored or blocked, ...).
bool write_all(int fd, std::string_view data) noexcept;

}  // namespace bounded_subprocess::cli
