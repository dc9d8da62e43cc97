// The sync entry points that also run in a container, above both ways of
// running: `run` and `run_stream_lines` pick the host's driver (drivers/,
// stream/) or the podman layer (podman/), which runs its client on the host.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/detail/run_observed.hpp"
#include "bounded_subprocess/run.hpp"
#include "bounded_subprocess/stream.hpp"
#include "podman/podman_command.hpp"
#include "stream/stream_sync.hpp"

namespace bounded_subprocess {

Result run(const std::vector<std::string>& argv, const Options& options) {
  if (options.container) return detail::run_in_container(argv, options);
  return detail::run_observed(argv, options, {});
}

Result run_stream_lines(const std::vector<std::string>& argv, const Options& options,
                        const std::function<bool(std::string_view line)>& on_line) {
  if (options.container) return detail::run_stream_lines_in_container(argv, options, on_line);
  return detail::run_stream_lines_on_host(argv, options, on_line);
}

}  // namespace bounded_subprocess
