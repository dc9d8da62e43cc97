// The StreamOptions of the podman client of a container line stream.
#pragma once

#include <cmath>
#include <stdexcept>

#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/stream.hpp"

namespace bounded_subprocess::detail {

/// The client's StreamOptions: the bounds of the call, the host's
/// environment and cwd, no watchdog (the container is not in the client's
/// process group). Throws std::invalid_argument for bounds that make no
/// sense, before anything is created.
inline StreamOptions stream_client_options(const PodmanStreamOptions& o) {
  auto positive = [](Seconds s, const char* what) {
    if (!std::isfinite(s.count()) || s.count() <= 0.0)
      throw std::invalid_argument(std::string("podman: ") + what +
                                  " must be a positive, finite duration");
  };
  positive(o.timeout, "timeout");
  positive(o.stdin_write_timeout, "stdin_write_timeout");
  if (o.max_line_size == 0) throw std::invalid_argument("podman: max_line_size must be at least 1");
  StreamOptions s;
  s.timeout = o.timeout;
  s.max_line_size = o.max_line_size;
  s.stderr_max_output_size = o.stderr_max_output_size;
  s.stdin_data = o.stdin_data;
  s.stdin_write_timeout = o.stdin_write_timeout;
  return s;
}

}  // namespace bounded_subprocess::detail
