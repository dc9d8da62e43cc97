// podman_run_stream_lines, the sync callback face: the podman client driven
// by run_stream_lines, then the bounded cleanup whatever happened.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/stream.hpp"
#include "podman_command.hpp"
#include "podman_stream_options.hpp"

namespace bounded_subprocess {

Result podman_run_stream_lines(const std::vector<std::string>& argv,
                               const PodmanStreamOptions& options,
                               const std::function<bool(std::string_view line)>& on_line) {
  const auto spec = detail::container_spec(options);
  detail::validate_container(argv, spec);
  const StreamOptions client = detail::stream_client_options(options);

  const auto start = std::chrono::steady_clock::now();
  detail::PodmanScratch scratch(options.temp_dir);
  const auto command = detail::podman_run_command(argv, spec, scratch);

  Result result;
  try {
    result = run_stream_lines(command, client, on_line);
  } catch (...) {
    try {
      detail::remove_container_sync(spec, scratch, true);
    } catch (...) {
    }
    throw;
  }
  detail::remove_container_sync(spec, scratch, true);
  result.elapsed = std::chrono::steady_clock::now() - start;
  return result;
}

}  // namespace bounded_subprocess
