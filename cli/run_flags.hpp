// The run options (run_spec.hpp's table) as command-line options: one
// registration for the single-run and the batch command lines.
#pragma once

#include <array>
#include <cstddef>

#include "command_line.hpp"
#include "run_spec.hpp"

namespace bounded_subprocess::cli {

/// Each run option's number in its CommandLine, by Field.
using RunFlagIds = std::array<std::size_t, kFieldCount>;

/// Adds every run option of the table to `command`.
RunFlagIds add_run_flags(CommandLine& command);

/// After a parse: the settings the command line gave, every value checked
/// (set_from_text). Errors: UsageError naming the flag.
RunSettings run_settings_from(const CommandLine::Parsed& parsed, const RunFlagIds& ids);

}  // namespace bounded_subprocess::cli
