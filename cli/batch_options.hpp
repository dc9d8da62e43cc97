// The command line of `bounded-run batch`.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "run_spec.hpp"

namespace bounded_subprocess::cli {

/// Which jobs of the input this process runs.
struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;  ///< 1: every job
  /// By the job's position (its line number) or by a stable hash of its id.
  enum class By { line, id } by = By::line;
  /// Where the shard came from ("--shard", "SLURM_ARRAY_TASK_ID", ...).
  std::string origin;
};

enum class ProgressMode { automatic, bar, lines, none };

struct BatchConfig {
  /// JOBS.jsonl, or "-" for stdin.
  std::string input;
  /// RESULTS.jsonl after `%a` expansion; stdout when absent.
  std::optional<std::string> output;
  std::size_t parallel = 1;
  bool resume = false;
  bool overwrite = false;
  Shard shard;
  bool confirm_timeouts = false;
  std::optional<std::size_t> memory_budget_mb;
  ProgressMode progress = ProgressMode::automatic;
  double progress_interval = 5.0;
  bool quiet = false;
  /// The run options given on the command line: every job's defaults.
  RunSettings defaults;
};

/// Text to print on stdout, then exit 0 (`--help`).
struct BatchHelp {
  std::string text;
};

/// Parses `bounded-run batch ...` (argv[0] is "batch"). `env` holds the
/// environment variables that matter (the SLURM_ARRAY_* ones), so that
/// tests can pass their own.
///
/// Sharding: `--shard I/N` (0 <= I < N), else inside a Slurm job array
/// (SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT set) I is
/// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP and
/// N is SLURM_ARRAY_TASK_COUNT; an array that is not one evenly stepped
/// range is refused. `%a` in --output becomes I.
///
/// Errors: UsageError, one line. Thread safety: pure function.
std::variant<BatchConfig, BatchHelp> parse_batch_command_line(int argc, const char* const* argv,
                                                              const std::map<std::string, std::string>& env);

/// The SLURM_ARRAY_* variables of this process's environment.
std::map<std::string, std::string> slurm_environment();

}  // namespace bounded_subprocess::cli
