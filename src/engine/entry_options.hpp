// From the public `Options` to what each entry point runs with: the one place where
// a field an entry point cannot use is rejected (std::invalid_argument naming the
// field and the entry point, before anything is spawned) and where each entry point's
// defaults are written (the table in bounded_subprocess/options.hpp and
// docs/cpp-api.md say the same).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "bounded_subprocess/options.hpp"
#include "engine/engine_options.hpp"

namespace bounded_subprocess::detail {

/// The public entry points, for the checks and the messages.
enum class EntryPoint { run, async_run, run_stream_lines, open_line_stream, interactive, async_interactive };

/// "bounded_subprocess::run", ...
const char* entry_point_name(EntryPoint entry) noexcept;

/// What `run` and `async_run` run with: the defaults filled in, the fields
/// they cannot use rejected, the bounds checked (validate_run_options).
/// With a container, `env` and `cwd` are still here: the podman code moves
/// them into the container (see podman/podman_command.hpp).
EngineOptions run_settings(const Options& options, EntryPoint entry);

/// What a line stream runs with: the engine's options (stderr's last
/// `max_output_size` bytes kept) and the cap on one line.
struct StreamSettings {
  EngineOptions engine;
  std::size_t max_line_size = defaults::stream_max_line_size;
};
StreamSettings stream_settings(const Options& options, EntryPoint entry);

/// What Interactive and AsyncInteractive run with.
struct InteractiveSettings {
  std::size_t max_line_size = defaults::interactive_max_line_size;
  std::optional<Environment> env{};
  std::optional<std::string> cwd{};
  std::optional<Containment> containment{};
  Containment min_containment = Containment::process_group;
  std::function<void()> on_interrupt{};
  std::optional<Isolation> isolation{};
};
InteractiveSettings interactive_settings(const Options& options, EntryPoint entry);

}  // namespace bounded_subprocess::detail
