// Containers: the same bounds around `podman run --rm -i --cidfile FILE`.
// (Declarations of the sync face; the podman work completes this header with
// the async faces and the line streams.)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess {

struct PodmanOptions {
  /// The image to run (required: an empty image is std::invalid_argument).
  std::string image;
  Seconds timeout{15.0};
  std::size_t max_output_size = 2048;
  bool tail = false;
  /// Passed to the container as `-e NAME=VALUE` (not to the podman client).
  std::optional<Environment> env;
  std::optional<std::string> stdin_data;
  Seconds stdin_write_timeout{15.0};
  /// Each becomes `-v VOLUME`, e.g. "/host/data:/data:ro".
  std::vector<std::string> volumes;
  /// `-w DIR` inside the container.
  std::optional<std::string> cwd;
  /// `--memory Nm --memory-swap Nm`.
  std::optional<std::size_t> memory_limit_mb;
  /// `--entrypoint E`; an empty string clears the image's ENTRYPOINT; absent
  /// omits the flag.
  std::optional<std::string> entrypoint;
  /// Further podman flags, placed before the image (e.g. "--network=none").
  std::vector<std::string> podman_args;
  /// The podman binary (looked up in PATH when it holds no '/').
  std::string podman_path = "podman";
};

/// Runs `argv` in a container of `options.image`, bounded like `run`.
/// Whatever ends the call, the container is force-removed with a bounded
/// `podman rm -f --time 0 --cidfile FILE --ignore`, the podman client is
/// reaped and the cidfile deleted.
Result podman_run(const std::vector<std::string>& argv, const PodmanOptions& options);

}  // namespace bounded_subprocess
