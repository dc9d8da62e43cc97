// bs_contained_wrapper PROGRAM [ARG...]: the kernel's part of `bounded-run`'s
// default containment as a whole process, and nothing of the library. As
// bs_spawn_wrapper, plus what the containment cannot do without (bare.hpp's
// BareContained): an init cloned into new PID and mount namespaces mounts a
// fresh /proc and starts the program born into a new cgroup v2 folder (in a
// cgroup namespace); both pipes are drained, the init reaped, the folder
// removed. No probe, no report, no kill at the end, no bound. Needs root
// and a writable cgroup v2 folder of its own (exit status 125 otherwise).
// What it prints is not the program's output (drained, not kept): it
// measures `true`.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bare.hpp"
#include "bench_util.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: bs_contained_wrapper PROGRAM [ARG...]\n", stderr);
    return 125;
  }
  // The init execs a path, as the library does once it has looked it up.
  std::string path = std::strchr(argv[1], '/') != nullptr ? argv[1] : bsbench::path_of(argv[1]);
  std::vector<char*> args(argv + 1, argv + argc);
  args[0] = path.data();
  args.push_back(nullptr);
  try {
    bsbench::BareContained bare(/*cgroup=*/true, 1);
    const int status = bare.run_drain(args.data());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bs_contained_wrapper: %s\n", e.what());
    return 125;
  }
}
