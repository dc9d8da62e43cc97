// Internal: open_line_stream in a container, for the entry point
// (entry/async_run.cpp).
#pragma once

#include <string>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/options.hpp"
#include "engine/entry_options.hpp"

namespace bounded_subprocess::detail {

/// `open_line_stream` in the container `options.container`: a LineStream
/// over the podman client whose end hook removes the container.
LineStream open_container_line_stream(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                                      const Options& options, EntryPoint entry);

}  // namespace bounded_subprocess::detail
