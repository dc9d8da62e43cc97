// bounded-run: the command-line entry point of bounded_subprocess.
//
//   bounded-run [OPTIONS] [--] PROGRAM [ARG...]      one bounded run
//   bounded-run batch JOBS.jsonl [OPTIONS]            a JSON Lines file of runs
//   bounded-run batch-merge [OPTIONS] SHARD...        join a batch's shards
//
// See `--help` of each, and docs/command.md. Exit status 125 means
// bounded-run itself failed; its message is one line on stderr.
#include <unistd.h>

#include <exception>
#include <string>
#include <string_view>
#include <variant>

#include "batch_main.hpp"
#include "bounded_subprocess/containment.hpp"
#include "cli_options.hpp"
#include "report.hpp"
#include "signals.hpp"
#include "single_run.hpp"

namespace {

int fail(const char* what) {
  std::string line = std::string("bounded-run: ") + what;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  line.push_back('\n');
  bounded_subprocess::cli::write_all(STDERR_FILENO, line);
  return 125;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = bounded_subprocess::cli;
  cli::reset_inherited_signals();
  try {
    const std::string_view first = argc > 1 ? argv[1] : "";
    if (first == "batch") {
      const int status = cli::batch_main(argc - 1, argv + 1);
      // The batch's idle warm sandboxes end here, reaped by their parent,
      // rather than as orphans of whoever reaps bounded-run's orphans.
      bounded_subprocess::drop_warm_sandboxes();
      return status;
    }
    if (first == "batch-merge") return cli::batch_merge_main(argc - 1, argv + 1);
    auto parsed = cli::parse_command_line(argc, argv);
    if (const auto* early = std::get_if<cli::EarlyExit>(&parsed)) {
      return cli::write_all(STDOUT_FILENO, early->text) ? 0 : 125;
    }
    return cli::run_single(std::get<cli::CliConfig>(parsed));
  } catch (const std::exception& e) {
    return fail(e.what());
  } catch (...) {
    return fail("unknown error");
  }
}
