// What both line stream entry points (run_stream_lines, open_line_stream) hand the
// engine: the run's options, a line sink for stdout and a tail capture for
// stderr. No Asio.
#pragma once

#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "engine/entry_options.hpp"
#include "engine/sink.hpp"

namespace bounded_subprocess::detail {

/// The engine's options of a line stream on the host, for `entry`
/// (run_stream_lines or open_line_stream): the entry point's defaults and
/// rejections and checks (stream_settings; the command is checked by
/// Child::spawn). Throws std::invalid_argument, before anything is spawned.
/// `options.container` must not be set.
StreamSettings stream_engine_options(const Options& options, EntryPoint entry);
/// stdout: lines capped at max_line_size, queued up to kLineQueueCap bytes.
Sink stream_stdout_sink(const StreamSettings& settings);
/// stderr: its last max_output_size bytes.
Sink stream_stderr_sink(const StreamSettings& settings);

}  // namespace bounded_subprocess::detail
