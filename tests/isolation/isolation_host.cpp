// A host process for the isolation tests that must see a whole process's
// life: `bs_isolation_host N` makes N isolated runs of `true` with a pids
// limit, prints how many v1 pids cgroups of its own it keeps then (folders
// bounded_subprocess.PID.* under its v1 pids cgroup, given as argv[2]),
// and exits with exit(), which ends them.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bounded_subprocess/run.hpp"
#include "cgroup_folders.hpp"

namespace bs = bounded_subprocess;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bs_isolation_host RUNS V1_PIDS_DIR\n");
    return 2;
  }
  for (int i = 0; i < std::atoi(argv[1]); ++i) {
    const bs::Result r =
        bs::run({"true"}, {.timeout = bs::Seconds(30), .isolation = bs::Isolation{.pids_limit = 8}});
    if (r.exit_code != 0) {
      std::fprintf(stderr, "run %d: %s\n", i, r.str().c_str());
      return 2;
    }
  }
  const auto kept = cgroups_of(argv[2], ::getpid());
  std::printf("%d %zu\n", static_cast<int>(::getpid()), kept.size());
  std::fflush(stdout);
  std::exit(0);
}
