// podman_run, the synchronous face: the podman client driven by `run`, then
// the bounded cleanup whatever happened.
#include <chrono>
#include <exception>
#include <string>
#include <vector>

#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/run.hpp"
#include "podman_command.hpp"
#include "supervisor.hpp"

namespace bounded_subprocess {

Result podman_run(const std::vector<std::string>& argv, const PodmanOptions& options) {
  const auto spec = detail::container_spec(options);
  detail::validate_container(argv, spec);
  const RunOptions client =
      detail::client_run_options(options.timeout, options.max_output_size, options.tail,
                                 options.stdin_data, options.stdin_write_timeout);
  detail::validate_run_options(client);

  const auto start = std::chrono::steady_clock::now();
  detail::PodmanScratch scratch(options.temp_dir);
  const auto command = detail::podman_run_command(argv, spec, scratch);

  Result result;
  try {
    result = run(command, client);
  } catch (...) {
    // The client may or may not have started: clean up as if it had (a
    // spawn failure makes the cleanup fail the same way), but report the
    // first error.
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
