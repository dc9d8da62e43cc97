// podman_run, the synchronous face: the podman client driven by `run`, then
// the bounded cleanup whatever happened (run_container_sync).
#include <string>
#include <vector>

#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/run.hpp"
#include "podman/podman_command.hpp"

namespace bounded_subprocess {

Result podman_run(const std::vector<std::string>& argv, const PodmanOptions& options) {
  const RunOptions client = detail::checked_client_run_options(argv, options);
  return detail::run_container_sync(
      argv, options, [&](const std::vector<std::string>& command) { return run(command, client); });
}

}  // namespace bounded_subprocess
