// The command line of `bounded-run` (a single run).
#pragma once

#include <string>
#include <variant>

#include "run_spec.hpp"

namespace bounded_subprocess::cli {

/// Everything the command line asked for, validated (numbers plain decimal,
/// finite and in range, the program present, no conflicting options).
struct CliConfig {
  /// The run; `settings.spec.argv` is PROGRAM and its arguments.
  RunSettings settings;
  bool json = false;
};

/// Text to print on stdout, then exit 0 (`--help`, `--version`).
struct EarlyExit {
  std::string text;
};

/// Parses `argv` (argv[0] is the command's own name). Options come first;
/// the program starts at `--` or at the first word that is not an option or
/// an option's value, and every later word belongs to the program, even one
/// starting with '-'.
///
/// Errors: UsageError for anything wrong on the command line, one line.
/// Thread safety: pure function.
std::variant<CliConfig, EarlyExit> parse_command_line(int argc, const char* const* argv);

}  // namespace bounded_subprocess::cli
