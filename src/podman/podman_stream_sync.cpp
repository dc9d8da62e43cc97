// podman_run_stream_lines, the sync callback face: the podman client driven
// by run_stream_lines, then the bounded cleanup whatever happened
// (run_container_sync).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/stream.hpp"
#include "podman/podman_command.hpp"
#include "podman/podman_stream_options.hpp"

namespace bounded_subprocess {

Result podman_run_stream_lines(const std::vector<std::string>& argv, const PodmanStreamOptions& options,
                               const std::function<bool(std::string_view line)>& on_line) {
  const auto parts = detail::checked_stream_parts(argv, options);
  return detail::run_container_sync(argv, parts.container, [&](const std::vector<std::string>& command) {
    return run_stream_lines(command, parts.client, on_line);
  });
}

}  // namespace bounded_subprocess
