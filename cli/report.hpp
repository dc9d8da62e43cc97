// How bounded-run reports a finished run: as JSON, or like coreutils
// `timeout` (the captured bytes on its own stdout/stderr, the child's status).
#pragma once

#include <string>

#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::cli {

/// The result as one JSON object (no trailing newline) with the fields
/// exit_code, timeout, stdout, stderr, memory_limit_exceeded,
/// stdin_write_failed, stdout_truncated, stderr_truncated, elapsed_seconds,
/// reason, signal, stdout_total_bytes, stderr_total_bytes,
/// user_cpu_seconds, system_cpu_seconds and max_rss_kb. stdout and stderr are
/// the captured bytes decoded as UTF-8 with invalid bytes dropped.
///
/// Errors: none beyond std::bad_alloc. Thread safety: pure function.
std::string result_to_json(const Result& result);

/// The exit status of bounded-run without --json, in the style of coreutils
/// `timeout`, first match wins: 124 on timeout; 137 after a memory kill;
/// 128+N when signal N ended the program; 255 when the stdin data could not
/// all be written (the library reports exit_code -1 then, and -1 as an 8-bit
/// status is 255); otherwise the program's own exit status.
///
/// Thread safety: pure function.
int exit_status(const Result& result) noexcept;

/// Writes `data` to `fd` in full, retrying on EINTR and short writes.
/// Returns false if the fd refused it (e.g. EPIPE when SIGPIPE is ignored).
bool write_all(int fd, const std::string& data) noexcept;

}  // namespace bounded_subprocess::cli
