// checked_stream_parts: the podman line streams' options, checked and split.
#include "podman/podman_stream_options.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "podman/podman_command.hpp"

namespace bounded_subprocess::detail {

namespace {

void require_positive(Seconds s, const char* what) {
  if (!std::isfinite(s.count()) || s.count() <= 0.0)
    throw std::invalid_argument(std::string("podman: ") + what + " must be a positive, finite duration");
}

}  // namespace

PodmanStreamParts checked_stream_parts(const std::vector<std::string>& argv, const PodmanStreamOptions& o) {
  PodmanStreamParts parts{.container = {.image = o.image,
                                        .env = o.env,
                                        .volumes = o.volumes,
                                        .cwd = o.cwd,
                                        .memory_limit_mb = o.memory_limit_mb,
                                        .entrypoint = o.entrypoint,
                                        .podman_args = o.podman_args,
                                        .podman_path = o.podman_path,
                                        .cleanup_timeout = o.cleanup_timeout,
                                        .temp_dir = o.temp_dir,
                                        .containment = o.containment,
                                        .min_containment = o.min_containment},
                          .client = {.timeout = o.timeout,
                                     .max_line_size = o.max_line_size,
                                     .stderr_max_output_size = o.stderr_max_output_size,
                                     .stdin_data = o.stdin_data,
                                     .stdin_write_timeout = o.stdin_write_timeout,
                                     .containment = client_containment(o.containment, o.min_containment),
                                     .min_containment = o.min_containment}};
  validate_container(argv, parts.container);
  require_positive(o.timeout, "timeout");
  require_positive(o.stdin_write_timeout, "stdin_write_timeout");
  if (o.max_line_size == 0) throw std::invalid_argument("podman: max_line_size must be at least 1");
  return parts;
}

}  // namespace bounded_subprocess::detail
