#include "cli_options.hpp"

#include <string>
#include <vector>

#include "command_line.hpp"
#include "run_flags.hpp"

#ifndef BOUNDED_RUN_VERSION
#error "BOUNDED_RUN_VERSION must be defined by the build"
#endif

namespace bounded_subprocess::cli {

std::variant<CliConfig, EarlyExit> parse_command_line(int argc, const char* const* argv) {
  CommandLine command(
      "bounded-run",
      "Runs PROGRAM with hard bounds: a wall-clock timeout, after which every process of the run is "
      "killed (the run is contained in a cgroup, a PID namespace, a subreaper or its process group: "
      "--containment), bounded capture of stdout and stderr, an optional memory limit, and optional "
      "isolation (--network none, --read-only, --scratch-mb, --volume, --pids-limit, --cpu-limit, "
      "--file-size-limit-mb).\n"
      "`bounded-run batch --help` runs a JSON Lines file of jobs; `bounded-run batch-merge --help` joins "
      "the output of its shards.",
      "PROGRAM starts at `--` or at the first word that is not an option or an option's value; every "
      "word after it is the program's. An option's value is the next word, whatever it is, or follows "
      "'=' (`--stdin-data=` is empty data).\n"
      "Exit status without --json: the program's own; 124 on timeout; 128+N when signal N ended "
      "it; 137 after a memory or CPU-limit kill; 255 when not all stdin data could be written; 125 "
      "when bounded-run itself fails (bad option, program cannot start, result cannot be written) "
      "or the run's init was killed from inside (reason \"containment_broken\"). With "
      "--json: 0 whenever the program ran (its status is in \"exit_code\"), 125 on bounded-run's own "
      "errors. When bounded-run gets SIGTERM, SIGINT, SIGHUP or SIGQUIT (N) it kills the run, reports "
      "it (reason \"cancelled\", \"cancel_signal\": N) and exits 128+N in both modes.");
  command.version("bounded-run " BOUNDED_RUN_VERSION);
  command.positional("PROGRAM", "The program to run, then its arguments", /*many=*/true);
  const RunFlagIds run_flags = add_run_flags(command);
  const std::size_t json = command.add({"--json", "", "Print the result as one JSON object on stdout"});

  const std::vector<std::string> words(argv + (argc > 0 ? 1 : 0), argv + argc);
  CommandLine::Parsed parsed = command.parse(words, CommandLine::Positionals::end_options);
  if (parsed.help) return EarlyExit{command.help()};
  if (parsed.version) return EarlyExit{command.version_text()};

  CliConfig config;
  config.json = parsed.given(json);
  config.settings = run_settings_from(parsed, run_flags);
  check_conflicts(config.settings, Spelling::flag, /*containers_known=*/true);
  if (parsed.positionals.empty()) {
    throw UsageError("missing PROGRAM (usage: bounded-run [OPTIONS] -- PROGRAM [ARG...])");
  }
  if (parsed.positionals.front().empty()) throw UsageError("PROGRAM is an empty string");
  config.settings.spec.argv = std::move(parsed.positionals);
  return config;
}

}  // namespace bounded_subprocess::cli
