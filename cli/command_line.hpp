// The parser of bounded-run's three command lines (one run, `batch`,
// `batch-merge`): long options (`--name VALUE`, `--name=VALUE`), their
// short aliases (`-o FILE`, `-oFILE`, `-q`), flags, repeatable options and
// positional words, and the `--help` text of all of them in one layout.
//
// Written for this command rather than taken from a library: a process that
// makes one run pays its own start in every run, and a general parser cost
// a third of what `bounded-run -- true` spent beyond a plain spawn, drain
// and wait program (0.16 of 0.5 ms: its options built at each start, and
// the iostreams it brings, whose static initialisation alone took 0.06 ms).
// This one keeps a table of the options' names and help, and writes the
// help text only when asked.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bounded_subprocess::cli {

/// One option of a command line.
struct OptionDef {
  /// Its spellings: "--tail", or "-o,--output" (a short alias first).
  std::string_view names;
  /// The value's name in `--help` ("SECONDS"); empty for a flag.
  std::string_view value_name;
  std::string help;
  /// May be given more than once (each value kept, in order); otherwise a
  /// second value is an error. A flag may always be repeated.
  bool repeatable = false;
};

/// A command line's options and positional words, and its `--help`.
class CommandLine {
 public:
  /// Where the positional words may stand.
  enum class Positionals {
    /// The first one ends the options: it and every later word are
    /// positional, even those starting with '-' (a program and its
    /// arguments).
    end_options,
    /// Among the options (a file name anywhere).
    anywhere,
  };

  /// `usage_name` as in "Usage: bounded-run batch [OPTIONS] JOBS".
  CommandLine(std::string_view usage_name, std::string_view description, std::string_view footer);

  /// Adds an option; the returned number names it in Parsed.
  std::size_t add(OptionDef def);
  /// `--version` printing `text` (and a newline).
  void version(std::string_view text) { version_ = text; }
  /// The positional words' name and help; `many`: any number of them.
  void positional(std::string_view name, std::string_view help, bool many);

  struct Parsed {
    /// Per option (add's number): each value given, in order; a flag has
    /// one empty value per time it was given.
    std::vector<std::vector<std::string>> values;
    std::vector<std::string> positionals;
    bool help = false;     ///< `-h` or `--help` was given: print help()
    bool version = false;  ///< `--version` was given: print version_text()

    bool given(std::size_t option) const { return !values[option].empty(); }
    /// The option's one value, or `fallback` when it was not given.
    std::string value_or(std::size_t option, std::string fallback) const;
  };

  /// Parses the words after the command's name. `--` ends the options.
  /// `-h`/`--help` and `--version` end the parse where they stand.
  /// Errors (UsageError, one line naming the word): an unknown option, a
  /// value missing after the last word, a value given to a flag, a second
  /// value of an option that is not repeatable.
  Parsed parse(const std::vector<std::string>& words, Positionals where) const;

  /// The option's long spelling ("--output").
  std::string_view name(std::size_t option) const { return options_[option].long_name; }

  std::string help() const;
  std::string version_text() const { return std::string(version_) + "\n"; }

 private:
  struct Option {
    OptionDef def;
    std::string_view short_name;  ///< "-o", or empty
    std::string_view long_name;   ///< "--output"
  };
  /// The option spelled `name` ("--output" or "-o"), or nullptr.
  const Option* find(std::string_view name) const;

  std::string_view usage_name_;
  std::string_view description_;
  std::string_view footer_;
  std::string_view version_;
  std::string_view positional_name_;
  std::string_view positional_help_;
  bool positional_many_ = false;
  std::vector<Option> options_;
};

}  // namespace bounded_subprocess::cli
