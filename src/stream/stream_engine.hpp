// What both line stream faces (run_stream_lines, open_line_stream) hand the
// engine: the run's options, a line sink for stdout and a tail capture for
// stderr. No Asio.
#pragma once

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/stream.hpp"
#include "engine/sink.hpp"

namespace bounded_subprocess::detail {

/// The Supervisor's options for a stream. Throws std::invalid_argument for a
/// max_line_size of 0 (the rest is checked by validate_run_options).
RunOptions stream_engine_options(const StreamOptions& options);
/// stdout: lines capped at max_line_size, queued up to kLineQueueCap bytes.
Sink stream_stdout_sink(const StreamOptions& options);
/// stderr: its last stderr_max_output_size bytes.
Sink stream_stderr_sink(const StreamOptions& options);

}  // namespace bounded_subprocess::detail
