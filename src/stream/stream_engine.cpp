#include "stream/stream_engine.hpp"

#include <stdexcept>

#include "spawn/child.hpp"

namespace bounded_subprocess::detail {

StreamSettings stream_engine_options(const Options& options, EntryPoint entry) {
  if (options.container) throw std::logic_error("stream_engine_options: on the host only");
  // The output bounds of the engine are the sinks' (below); its
  // max_output_size and tail are checked with the rest (stream_settings).
  return stream_settings(options, entry);
}

Sink stream_stdout_sink(const StreamSettings& s) {
  return Sink::lines(s.max_line_size, kLineQueueCap);
}

Sink stream_stderr_sink(const StreamSettings& s) {
  return Sink::capture(s.engine.max_output_size, true);
}

}  // namespace bounded_subprocess::detail
