// bounded-run: the command-line face of bounded_subprocess::run.
//
//   bounded-run [OPTIONS] [--] PROGRAM [ARG...]
//
// See `bounded-run --help` and CONTRACT.md section 4. Exit status 125 means
// bounded-run itself failed; its message is one line on stderr.
#include <unistd.h>

#include <cstring>
#include <exception>
#include <string>
#include <variant>

#include "cli_options.hpp"
#include "execute.hpp"
#include "report.hpp"

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
  try {
    auto parsed = cli::parse_command_line(argc, argv);
    if (const auto* early = std::get_if<cli::EarlyExit>(&parsed)) {
      return cli::write_all(STDOUT_FILENO, early->text) ? 0 : 1;
    }
    const cli::CliConfig& config = std::get<cli::CliConfig>(parsed);
    const bounded_subprocess::Result result = cli::execute(config);
    if (config.json) {
      cli::write_all(STDOUT_FILENO, cli::result_to_json(result) + "\n");
      return 0;
    }
    cli::write_all(STDOUT_FILENO, result.out.data);
    cli::write_all(STDERR_FILENO, result.err.data);
    if (result.reason == bounded_subprocess::EndReason::watchdog_failed) {
      return fail(("the memory watchdog could not measure the run (" + std::string(std::strerror(result.watchdog_error)) +
                   "), so it was killed")
                      .c_str());
    }
    return cli::exit_status(result);
  } catch (const std::exception& e) {
    return fail(e.what());
  } catch (...) {
    return fail("unknown error");
  }
}
