// Options of a bounded run: plain aggregates, so that C++20 designated
// initializers read like the seed's keyword arguments:
//
//   bounded_subprocess::run({"echo", "hi"}, {.timeout = 5s, .max_output_size = 1024});
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/containment.hpp"

namespace bounded_subprocess {

/// Durations are seconds as a double, so `5s`, `250ms` and `1.5s` all work.
using Seconds = std::chrono::duration<double>;

/// The child's environment: NAME -> VALUE. When given it *replaces* the
/// inherited environment (as Python's `env=` does); see `inherited_env()`.
using Environment = std::map<std::string, std::string>;

/// Options of `run`, `async_run` and `run_stream_lines`.
///
/// Every field has the seed's default. Bounds that make no sense (a timeout
/// that is not positive, a memory limit of 0 MiB, ...) make the entry point
/// throw `std::invalid_argument` before anything is spawned.
struct RunOptions {
  /// One wall-clock deadline, measured from the spawn, bounding the whole run
  /// (stdin phase included). At the deadline the process group gets SIGKILL.
  Seconds timeout{15.0};
  /// Bytes kept of stdout and of stderr, each. Bytes past the bound are
  /// drained and thrown away. 0 keeps nothing.
  std::size_t max_output_size = 2048;
  /// Keep the last `max_output_size` bytes instead of the first.
  bool tail = false;
  /// Replaces the child's environment when set; inherits the host's when not.
  std::optional<Environment> env{};
  /// Data written to the child's stdin while its output is read. When absent
  /// the child's stdin is /dev/null.
  std::optional<std::string> stdin_data{};
  /// Bound on writing `stdin_data`. If not all of it is written in time (or
  /// the child closes its stdin first), stdin is closed, the result's
  /// `stdin_write_failed` is set and `exit_code` is -1.
  Seconds stdin_write_timeout{15.0};
  /// Working directory of the child; the host's when absent.
  std::optional<std::string> cwd{};
  /// Memory watchdog: when set, the summed peak RSS (VmHWM) of every process
  /// in the child's process group is sampled every `memory_watchdog_interval`
  /// and the group is killed once it exceeds this many MiB.
  std::optional<std::size_t> memory_limit_mb{};
  /// At least 1 ms (the watchdog reads /proc on every tick).
  Seconds memory_watchdog_interval{1.0};
  /// How every descendant is kept in the run (see Containment): exactly this
  /// mechanism, or an error (SpawnError) when the machine lacks it. When
  /// absent, the strongest the machine allows...
  std::optional<Containment> containment{};
  /// ...and never one weaker than this (an error instead).
  Containment min_containment = Containment::process_group;
};

/// A copy of the host process's environment, to start from when a few
/// variables must be added or overridden:
///
///   auto env = inherited_env(); env["LANG"] = "C";
///   run(argv, {.env = std::move(env)});
Environment inherited_env();

}  // namespace bounded_subprocess
