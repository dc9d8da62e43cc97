// The engine's settings of one run: every bound concrete. The entry points build
// them from the public `Options` (engine/entry_options.hpp), which is where a
// field an entry point cannot use is rejected and where each entry point's defaults live.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/options.hpp"

namespace bounded_subprocess::detail {

struct EngineOptions {
  Seconds timeout{defaults::timeout};
  /// Bytes kept of stdout and of stderr, each.
  std::size_t max_output_size = defaults::max_output_size;
  bool tail = false;
  std::optional<Environment> env{};
  std::optional<std::string> stdin_data{};
  Seconds stdin_write_timeout{defaults::stdin_write_timeout};
  std::optional<std::string> cwd{};
  std::optional<std::size_t> memory_limit_mb{};
  Seconds memory_watchdog_interval{defaults::memory_watchdog_interval};
  std::optional<Containment> containment{};
  Containment min_containment = Containment::process_group;
  /// The sync driver calls it on EINTR (see Options::on_interrupt).
  std::function<void()> on_interrupt{};
  std::optional<Isolation> isolation{};
  /// Return from the spawn before the program has exec'd where the start
  /// allows (ChildSpec::defer_start); the driver then waits on `start_fd`.
  bool defer_start = false;
};

}  // namespace bounded_subprocess::detail
