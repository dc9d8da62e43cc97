#include "stream/stream_engine.hpp"

#include <stdexcept>

#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

StreamSettings stream_engine_options(const std::vector<std::string>& argv, const Options& options,
                                     EntryPoint entry) {
  if (options.container) throw std::logic_error("stream_engine_options: on the host only");
  // The output bounds of the engine are the sinks' (below); its
  // max_output_size and tail only reach the Supervisor's validation.
  StreamSettings settings = stream_settings(options, entry);
  validate_command(argv, settings.engine.env, settings.engine.cwd);
  return settings;
}

Sink stream_stdout_sink(const StreamSettings& s) {
  return Sink::lines(s.max_line_size, kLineQueueCap);
}

Sink stream_stderr_sink(const StreamSettings& s) {
  return Sink::capture(s.engine.max_output_size, true);
}

}  // namespace bounded_subprocess::detail
