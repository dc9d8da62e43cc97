// Internal: the host's side of run_stream_lines, for the entry point
// (entry/run.cpp) and for the podman layer's client.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

/// `run_stream_lines` on the host: `options.container` must not be set
/// (std::logic_error). Throws as run_stream_lines.
Result run_stream_lines_on_host(const std::vector<std::string>& argv, const Options& options,
                                const std::function<bool(std::string_view line)>& on_line);

}  // namespace bounded_subprocess::detail
