// The async entry points that also run in a container, above both ways of
// running: `async_run` (what its call prepares) and `open_line_stream` pick
// the host's Asio driver (drivers/, stream/) or the podman layer (podman/).
//
// Asio first: its config decides on aligned_alloc from whether a C++
// standard header came before it, and every TU must decide alike (ODR).
#include "bounded_subprocess/async.hpp"

#include <string>
#include <vector>

#include "podman/podman_stream.hpp"
#include "stream/line_stream_hooks.hpp"

namespace bounded_subprocess {

detail::PreparedRun detail::prepare_async_run(const asio::any_io_executor& ex,
                                              const std::vector<std::string>& argv, const Options& options,
                                              LateStartError late) {
  PreparedRun run;
  if (options.container) {
    run.container = prepare_async_podman_run(ex, argv, options);
  } else {
    run.host = spawn_async_run(ex, argv, options, std::move(late));
  }
  return run;
}

LineStream open_line_stream(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                            const Options& options) {
  if (options.container)
    return detail::open_container_line_stream(ex, argv, options, detail::EntryPoint::open_line_stream);
  return detail::LineStreamAccess::open(ex, argv, options, {}, detail::EntryPoint::open_line_stream);
}

}  // namespace bounded_subprocess
