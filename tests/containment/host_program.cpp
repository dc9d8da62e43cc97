// bs_containment_host: a host process for the containment tests, doing what
// a test process must not do to itself.
//
//   bs_containment_host sigchld-ignored MECH MISBEHAVE
//       ignores SIGCHLD (as a careless host might), then runs MISBEHAVE
//       `exit 0`, `exit 3` and `kill-self 9` under MECH and prints one line
//       per run: "exit_code N", or "error: WHAT" when the library refused.
//   bs_containment_host hold MECH MISBEHAVE
//       starts MISBEHAVE `escape setsid sleep` under MECH, prints "ready"
//       once the escapee is out, then waits to be killed.
#include <signal.h>
#include <unistd.h>

#include <bounded_subprocess/interactive.hpp>
#include <bounded_subprocess/run.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const std::string mode = argv[1];
  const auto mechanism = bs::containment_from_string(argv[2]);
  const std::string misbehave = argv[3];
  if (!mechanism) return 2;
  if (mode == "sigchld-ignored") {
    ::signal(SIGCHLD, SIG_IGN);
    for (const auto& args : {std::vector<std::string>{"exit", "0"}, {"exit", "3"}, {"kill-self", "9"}}) {
      std::vector<std::string> argv_run = {misbehave};
      argv_run.insert(argv_run.end(), args.begin(), args.end());
      try {
        const bs::Result r = bs::run(argv_run, {.timeout = 20s, .containment = *mechanism});
        std::printf("exit_code %d\n", r.exit_code);
      } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
      }
    }
    return 0;
  }
  if (mode == "hold") {
    bs::Interactive proc({misbehave, "escape", "setsid", "sleep"}, {.containment = *mechanism});
    if (!proc.read_line(20s)) return 3;
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;) ::pause();
  }
  return 2;
}
