#include "cli_options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#ifndef BOUNDED_RUN_VERSION
#error "BOUNDED_RUN_VERSION must be defined by the build"
#endif

namespace bounded_subprocess::cli {

namespace {

// Larger durations would overflow the nanosecond clocks the engine uses.
constexpr double kMaxSeconds = 1e9;

// SECONDS: a finite decimal number above 0 and at most kMaxSeconds. Checked
// on the text, before CLI11 converts it, so that "nan", "inf" or "1e999"
// never reach a double conversion.
CLI::Validator seconds_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        const double value = std::strtod(begin, &end);
        if (text.empty() || end != begin + text.size() || !std::isfinite(value) || !(value > 0) ||
            value > kMaxSeconds) {
          return "expected a number of seconds above 0 (at most 1e9), got '" + text + "'";
        }
        return {};
      },
      "", "seconds");
}

// A count in plain decimal digits. CLI11 2.1 converts integers with
// strtoull(base 0), which would accept "-1" (wrapping to 2^64-1), "0x10" or
// "010" (octal); this check lets only decimal through (leading zeros are
// stripped so that they do not mean octal).
CLI::Validator count_validator(bool positive) {
  return CLI::Validator(
      [positive](std::string& text) -> std::string {
        const std::string what = positive ? "a whole number of at least 1" : "a whole number of 0 or more";
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "expected " + what + ", got '" + text + "'";
        }
        const std::size_t nonzero = text.find_first_not_of('0');
        std::string digits = nonzero == std::string::npos ? "0" : text.substr(nonzero);
        if (digits.size() > 18) return "number too large: '" + text + "'";
        if (positive && digits == "0") return "expected " + what + ", got '" + text + "'";
        text = digits;
        return {};
      },
      "", positive ? "positive count" : "count");
}

// One line, whatever CLI11 or a validator wrote.
std::string one_line(std::string_view text) {
  std::string line(text);
  std::replace_if(line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// CLI11 2.1 reads `--opt=` (an empty attached value) as `--opt` alone and
// takes the next word as the value, so `--entrypoint= echo hi` would make
// "echo" the entrypoint. For our own value options, before the program
// starts, `--opt=` becomes `--opt ""`. Which options take a value is asked
// of CLI11 itself; this pass only finds where the options end.
std::vector<std::string> attach_empty_values(const CLI::App& app, std::vector<std::string> args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--" || word.size() < 2 || word[0] != '-') break;  // the program starts
    if (word[1] != '-') continue;                                   // short flag (-h)
    const std::size_t eq = word.find('=');
    const std::string name = word.substr(0, eq);
    const CLI::Option* opt = app.get_option_no_throw(name);
    if (opt == nullptr || opt->get_items_expected_max() == 0) continue;  // unknown (CLI11 reports it) or a flag
    if (eq == std::string::npos) {
      ++i;  // the next word is this option's value
    } else if (eq + 1 == word.size()) {
      args[i] = name;
      args.insert(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::string());
      ++i;
    }
  }
  return args;
}

void check_config(const CliConfig& config) {
  if (config.argv.empty()) {
    throw UsageError("missing PROGRAM (usage: bounded-run [OPTIONS] -- PROGRAM [ARG...])");
  }
  if (config.argv.front().empty()) throw UsageError("PROGRAM is an empty string");
}

}  // namespace

std::variant<CliConfig, EarlyExit> parse_command_line(int argc, const char* const* argv) {
  CliConfig config;
  std::vector<std::string> env_words;

  CLI::App app{
      "Runs PROGRAM with hard bounds: a wall-clock timeout that kills its whole process group, "
      "bounded capture of stdout and stderr, and an optional memory watchdog.",
      "bounded-run"};
  app.positionals_at_end();  // after the program's name, every word is the program's
  app.set_version_flag("--version", std::string("bounded-run ") + BOUNDED_RUN_VERSION);
  app.footer(
      "PROGRAM starts at `--` or at the first word that is not an option; every word after it "
      "is the program's.\n"
      "Exit status without --json: the program's own; 124 on timeout; 128+N when signal N ended "
      "it; 137 after a memory kill; 255 when not all stdin data could be written; 125 when "
      "bounded-run itself fails (bad option, program cannot start). With --json: 0 whenever the "
      "program ran (its status is in \"exit_code\"), 125 on bounded-run's own errors.");

  app.add_option("--timeout", config.timeout_seconds, "Wall-clock bound of the whole run")
      ->check(seconds_validator())
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--max-output", config.max_output, "Bytes kept of stdout and of stderr, each")
      ->check(count_validator(false))
      ->type_name("BYTES")
      ->capture_default_str();
  app.add_flag("--tail", config.tail, "Keep the last bytes instead of the first");
  auto* stdin_data = app.add_option("--stdin-data", config.stdin_data, "Data for the program's stdin")
                         ->type_name("TEXT");
  app.add_option("--stdin-file", config.stdin_file,
                 "File whose bytes go to the program's stdin ('-': bounded-run's own stdin)")
      ->type_name("PATH")
      ->excludes(stdin_data);
  app.add_option("--stdin-timeout", config.stdin_timeout_seconds, "Bound on writing the stdin data")
      ->check(seconds_validator())
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--memory-limit-mb", config.memory_limit_mb,
                 "Kill the process group once its summed peak RSS exceeds N MiB")
      ->check(count_validator(true))
      ->type_name("N");
  auto* interval = app.add_option("--memory-interval", config.memory_interval_seconds,
                                  "How often the memory watchdog samples")
                       ->check(seconds_validator())
                       ->type_name("SECONDS")
                       ->capture_default_str();
  app.add_option("--cwd", config.cwd, "Working directory of the program")->type_name("DIR");
  app.add_option("--env", env_words, "Add or override one environment variable (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  auto* clear_env = app.add_flag("--clear-env", config.clear_env,
                                 "Start the program from an empty environment (then apply --env)");
  app.add_flag("--json", config.json, "Print the result as one JSON object on stdout");

  auto* podman = app.add_option("--podman", config.podman_image, "Run the program in a podman container of IMAGE")
                     ->type_name("IMAGE");
  app.add_option("--volume", config.volumes, "Container volume, as podman's -v (repeatable; needs --podman)")
      ->type_name("V")
      ->allow_extra_args(false)
      ->needs(podman);
  app.add_option("--entrypoint", config.entrypoint,
                 "Container entrypoint; '' clears the image's ENTRYPOINT (needs --podman)")
      ->type_name("E")
      ->needs(podman);
  app.add_option("--podman-arg", config.podman_args, "Further flag for `podman run` (repeatable; needs --podman)")
      ->type_name("A")
      ->allow_extra_args(false)
      ->needs(podman);
  std::string containment = "auto";
  std::string min_containment = "process_group";
  const std::vector<std::string> mechanisms = {"process_group", "subreaper", "pid_namespace", "cgroup"};
  std::vector<std::string> choices = mechanisms;
  choices.insert(choices.begin(), "auto");
  app.add_option("--containment", containment,
                 "How descendants are kept in the run: auto (the strongest the machine has), "
                 "process_group, subreaper, pid_namespace or cgroup")
      ->check(CLI::IsMember(choices))
      ->type_name("NAME")
      ->capture_default_str();
  app.add_option("--min-containment", min_containment,
                 "Fail rather than use a containment weaker than NAME")
      ->check(CLI::IsMember(mechanisms))
      ->type_name("NAME")
      ->capture_default_str();
  podman->excludes(clear_env);  // the container's environment comes from its image
  podman->excludes(interval);   // containers are bounded by podman's --memory

  app.add_option("PROGRAM", config.argv, "The program to run, then its arguments")
      ->type_name("")
      ->allow_extra_args();

  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  args = attach_empty_values(app, std::move(args));
  std::reverse(args.begin(), args.end());  // CLI11 takes the vector form last-first
  try {
    app.parse(std::move(args));
  } catch (const CLI::CallForHelp&) {
    return EarlyExit{app.help()};
  } catch (const CLI::CallForVersion& e) {
    return EarlyExit{std::string(e.what()) + "\n"};
  } catch (const CLI::ParseError& e) {
    throw UsageError(one_line(e.what()));
  }

  for (const std::string& word : env_words) {
    const std::size_t eq = word.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--env expects NAME=VALUE, got '" + word + "'");
    }
    config.env.emplace_back(word.substr(0, eq), word.substr(eq + 1));
  }
  if (containment != "auto") config.containment = containment_from_string(containment);
  config.min_containment = *containment_from_string(min_containment);
  if (config.containment && *config.containment < config.min_containment) {
    throw UsageError("--containment " + containment + " is weaker than --min-containment " + min_containment);
  }
  check_config(config);
  return config;
}

}  // namespace bounded_subprocess::cli
