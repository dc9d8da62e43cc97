// `bounded-run [OPTIONS] -- PROGRAM [ARG...]`: one run on an event loop
// that also watches the stop signals, then the report.
#pragma once

#include "cli_options.hpp"

namespace bounded_subprocess::cli {

/// Runs `config`, prints the report (JSON, or the captured bytes) and
/// returns bounded-run's exit status (see `bounded-run --help`).
///
/// Errors: UsageError, std::invalid_argument, std::system_error when the run
/// could not happen (main prints one line and exits 125). A report that
/// cannot be written (a full disk, a closed stdout) is reported on stderr
/// and gives 125, unless the run was cancelled by a signal (then 128+N).
int run_single(const CliConfig& config);

}  // namespace bounded_subprocess::cli
