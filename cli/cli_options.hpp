// The command line of `bounded-run`, parsed with CLI11 into a plain struct.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "bounded_subprocess/containment.hpp"

namespace bounded_subprocess::cli {

/// An error of bounded-run itself (bad option, bad number, unreadable file):
/// main prints `bounded-run: <what()>` on one line and exits 125.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Everything the command line asked for, validated (numbers finite and in
/// range, the program present), not yet turned into library options.
struct CliConfig {
  /// PROGRAM and its arguments.
  std::vector<std::string> argv;
  double timeout_seconds = 15.0;
  std::size_t max_output = 2048;
  bool tail = false;
  std::optional<std::string> stdin_data;
  /// `--stdin-file PATH`; "-" means bounded-run's own stdin.
  std::optional<std::string> stdin_file;
  double stdin_timeout_seconds = 15.0;
  std::optional<std::size_t> memory_limit_mb;
  double memory_interval_seconds = 1.0;
  std::optional<std::string> cwd;
  /// `--env NAME=VALUE`, split at the first '=', in command-line order.
  std::vector<std::pair<std::string, std::string>> env;
  bool clear_env = false;
  bool json = false;
  /// `--podman IMAGE`: run in a container.
  std::optional<std::string> podman_image;
  std::vector<std::string> volumes;
  /// `--entrypoint E`; an empty string is kept (it clears the ENTRYPOINT).
  std::optional<std::string> entrypoint;
  std::vector<std::string> podman_args;
  /// `--containment NAME`: exactly this mechanism; absent (or `auto`): the
  /// strongest the machine has.
  std::optional<Containment> containment;
  /// `--min-containment NAME`: never a weaker one.
  Containment min_containment = Containment::process_group;
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
/// Errors: UsageError for anything wrong on the command line (CLI11's own
/// messages included), always one line. Thread safety: pure function.
std::variant<CliConfig, EarlyExit> parse_command_line(int argc, const char* const* argv);

}  // namespace bounded_subprocess::cli
