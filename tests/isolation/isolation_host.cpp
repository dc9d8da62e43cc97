// A host process for the isolation tests that must see a whole process's
// life: `bs_isolation_host N` makes N isolated runs of `true` with a pids
// limit, prints how many v1 pids cgroups of its own it keeps then (folders
// bounded_subprocess.PID.* under its v1 pids cgroup, given as argv[2]),
// and exits with exit(), which ends them.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bounded_subprocess/run.hpp"

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
  const std::string prefix = "bounded_subprocess." + std::to_string(::getpid()) + ".";
  int kept = 0;
  if (DIR* d = ::opendir(argv[2])) {
    while (const dirent* e = ::readdir(d))
      if (std::string(e->d_name).rfind(prefix, 0) == 0) ++kept;
    ::closedir(d);
  }
  std::printf("%d %d\n", static_cast<int>(::getpid()), kept);
  std::fflush(stdout);
  std::exit(0);
}
