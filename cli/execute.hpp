// Turns a parsed command line into a bounded run (local or in a container).
#pragma once

#include "bounded_subprocess/result.hpp"
#include "cli_options.hpp"

namespace bounded_subprocess::cli {

/// Reads the stdin source (`--stdin-data`, `--stdin-file PATH`, or
/// bounded-run's own stdin for `--stdin-file -`), builds the library's
/// options and runs `config.argv` with `bounded_subprocess::run`, or with
/// `bounded_subprocess::podman_run` when `--podman` was given.
///
/// Environment: without `--clear-env` the program inherits bounded-run's
/// environment (`inherited_env()`), with `--env` entries added or overriding;
/// with `--clear-env` it gets only the `--env` entries. In a container only
/// the `--env` entries are passed (as `-e`); the rest comes from the image.
///
/// Errors: UsageError when the stdin file cannot be read;
/// std::invalid_argument and std::system_error from the library (bad bounds,
/// a program or cwd that cannot be used). Thread safety: reads fd 0 for
/// `--stdin-file -`; otherwise as the library's `run`.
Result execute(const CliConfig& config);

}  // namespace bounded_subprocess::cli
