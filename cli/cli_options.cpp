#include "cli_options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <vector>

#include "run_flags.hpp"

#ifndef BOUNDED_RUN_VERSION
#error "BOUNDED_RUN_VERSION must be defined by the build"
#endif

namespace bounded_subprocess::cli {

std::variant<CliConfig, EarlyExit> parse_command_line(int argc, const char* const* argv) {
  CliConfig config;
  std::vector<std::string> program;
  RunFlagTexts texts;

  CLI::App app{
      "Runs PROGRAM with hard bounds: a wall-clock timeout, after which every process of the run is "
      "killed (the run is contained in a cgroup, a PID namespace, a subreaper or its process group: "
      "--containment), bounded capture of stdout and stderr, an optional memory limit, and optional "
      "isolation (--network none, --read-only, --scratch-mb, --volume, --pids-limit, --cpu-limit, "
      "--file-size-limit-mb).\n"
      "`bounded-run batch --help` runs a JSON Lines file of jobs; `bounded-run batch-merge --help` joins "
      "the output of its shards.",
      "bounded-run"};
  app.positionals_at_end();  // after the program's name, every word is the program's
  app.set_version_flag("--version", std::string("bounded-run ") + BOUNDED_RUN_VERSION);
  app.footer(
      "PROGRAM starts at `--` or at the first word that is not an option; every word after it "
      "is the program's.\n"
      "Exit status without --json: the program's own; 124 on timeout; 128+N when signal N ended "
      "it; 137 after a memory or CPU-limit kill; 255 when not all stdin data could be written; 125 "
      "when bounded-run itself fails (bad option, program cannot start, result cannot be written) "
      "or the run's init was killed from inside (reason \"containment_broken\"). With "
      "--json: 0 whenever the program ran (its status is in \"exit_code\"), 125 on bounded-run's own "
      "errors. When bounded-run gets SIGTERM, SIGINT, SIGHUP or SIGQUIT (N) it kills the run, reports "
      "it (reason \"cancelled\", \"cancel_signal\": N) and exits 128+N in both modes.");

  add_run_flags(app, texts);
  app.add_flag("--json", config.json, "Print the result as one JSON object on stdout");
  app.add_option("PROGRAM", program, "The program to run, then its arguments")
      ->type_name("")
      ->allow_extra_args();

  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  args = attach_empty_values(app, std::move(args), /*stop_at_first_word=*/true);
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

  config.settings = run_settings_from(texts);
  check_conflicts(config.settings, Spelling::flag, /*containers_known=*/true);
  if (program.empty()) throw UsageError("missing PROGRAM (usage: bounded-run [OPTIONS] -- PROGRAM [ARG...])");
  if (program.front().empty()) throw UsageError("PROGRAM is an empty string");
  config.settings.spec.argv = std::move(program);
  return config;
}

}  // namespace bounded_subprocess::cli
