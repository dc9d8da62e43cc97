// The run options (run_spec.hpp's table) as CLI11 options: one registration
// for the single-run and the batch command lines.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "run_spec.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace bounded_subprocess::cli {

/// The words CLI11 collected for each run option, and the CLI11 options.
struct RunFlagTexts {
  std::array<std::vector<std::string>, kFieldCount> words;
  std::array<CLI::Option*, kFieldCount> options{};
};

/// Adds every run option of the table to `app`, collecting into `texts`
/// (which must outlive the parse).
void add_run_flags(CLI::App& app, RunFlagTexts& texts);

/// After a parse: the settings the command line gave, every value checked
/// (set_from_text), a non-repeatable option given twice refused.
/// Errors: UsageError naming the flag.
RunSettings run_settings_from(const RunFlagTexts& texts);

/// CLI11 2.1 reads `--opt=` (an empty attached value) as `--opt` alone and
/// takes the next word as the value, so `--entrypoint= echo hi` would make
/// "echo" the entrypoint. For `app`'s value options, up to the first word
/// that is not an option (or `--`; with `stop_at_first_word` false, only
/// `--` ends the options), `--opt=` becomes `--opt ""`.
std::vector<std::string> attach_empty_values(const CLI::App& app, std::vector<std::string> args,
                                             bool stop_at_first_word);

/// `text` on one line (newlines become spaces, trailing spaces dropped).
std::string one_line(std::string text);

}  // namespace bounded_subprocess::cli
