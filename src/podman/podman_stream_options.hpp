// The options of the podman line streams, split into the two things they
// configure: the container (PodmanOptions, for the code every podman face
// shares) and the podman client's StreamOptions.
#pragma once

#include <string>
#include <vector>

#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/stream.hpp"

namespace bounded_subprocess::detail {

struct PodmanStreamParts {
  /// The container-side settings (image, env, volumes, cwd, memory limit,
  /// entrypoint, podman_args, podman_path, cleanup_timeout, temp_dir); the
  /// client's bounds are left at their defaults: they are in `client`.
  PodmanOptions container;
  /// The client's StreamOptions: the bounds of the call, the host's
  /// environment and cwd, no watchdog (the container is not in the client's
  /// process group).
  StreamOptions client;
};

/// Checks `argv` and `options` (validate_container, then the stream's
/// bounds) and splits them. Throws std::invalid_argument, before anything
/// is created.
PodmanStreamParts checked_stream_parts(const std::vector<std::string>& argv,
                                       const PodmanStreamOptions& options);

}  // namespace bounded_subprocess::detail
