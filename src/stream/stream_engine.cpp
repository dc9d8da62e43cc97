#include "stream/stream_engine.hpp"

#include <stdexcept>

namespace bounded_subprocess::detail {

RunOptions stream_engine_options(const StreamOptions& o) {
  if (o.max_line_size == 0) throw std::invalid_argument("max_line_size must be at least 1");
  // The output bounds are the sinks' (below); these fields only reach the
  // Supervisor's validation.
  return RunOptions{
      .timeout = o.timeout,
      .max_output_size = o.stderr_max_output_size,
      .tail = true,
      .env = o.env,
      .stdin_data = o.stdin_data,
      .stdin_write_timeout = o.stdin_write_timeout,
      .cwd = o.cwd,
      .memory_limit_mb = o.memory_limit_mb,
      .memory_watchdog_interval = o.memory_watchdog_interval,
      .containment = o.containment,
      .min_containment = o.min_containment,
  };
}

Sink stream_stdout_sink(const StreamOptions& o) {
  return Sink::lines(o.max_line_size, kLineQueueCap);
}

Sink stream_stderr_sink(const StreamOptions& o) {
  return Sink::capture(o.stderr_max_output_size, true);
}

}  // namespace bounded_subprocess::detail
