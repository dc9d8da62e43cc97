// The cli section: `bounded-run -- true` as a whole process (its own start
// included: loading, options, the containment probe, the run, the report),
// with the default containment and with process_group, against the plainest
// program that does the same work, bs_spawn_wrapper (posix_spawnp, drain
// both pipes, waitpid), and beside them `true` spawned bare and, where it
// can run, bs_contained_wrapper (the default containment's kernel work
// alone, the floor of any contained bounded-run). Measured quiet,
// then again with every CPU kept busy by spinning children of this section
// (killed and reaped by their pids at its end).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "bare.hpp"
#include "bench_util.hpp"
#include "bounded_subprocess/containment.hpp"
#include "sections.hpp"

namespace bsbench {

namespace {

constexpr int kBatch = 10;

// Milliseconds per whole-process run of `argv` (spawned, drained and waited
// for by the bench, the same for every side).
std::function<double()> per_run(std::vector<std::string> argv) {
  return [argv = std::move(argv)] {
    const auto t0 = Clock::now();
    for (int i = 0; i < kBatch; ++i) {
      const int status = bare_run_drain(argv);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail(argv[0] + " of true failed");
    }
    return ms_since(t0) / kBatch;
  };
}

// Whether bs_contained_wrapper works here (root, a cgroup v2 folder of ours).
bool contained_floor_here() {
  const int status = bare_run_drain({BS_BENCH_CONTAINED_WRAPPER, "true"});
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void measure(const std::string& prefix, int rounds, bool contained_floor) {
  const std::vector<std::string> run_default{BS_BENCH_BOUNDED_RUN, "--", "true"};
  const std::vector<std::string> run_group{BS_BENCH_BOUNDED_RUN, "--containment", "process_group", "--",
                                           "true"};
  const std::vector<std::string> wrapper{BS_BENCH_SPAWN_WRAPPER, "true"};
  std::vector<std::function<double()>> sides{per_run(run_default), per_run(run_group), per_run(wrapper),
                                             per_run({"true"})};
  if (contained_floor) sides.push_back(per_run({BS_BENCH_CONTAINED_WRAPPER, "true"}));
  const auto s = interleave(rounds, sides);
  const double floor = median(s[2]);
  figure(prefix + "bounded_run_true_ms", median(s[0]));
  figure(prefix + "bounded_run_true_process_group_ms", median(s[1]));
  figure(prefix + "wrapper_true_ms", floor);
  figure(prefix + "spawn_true_ms", median(s[3]));
  figure(prefix + "bounded_run_true_ratio", median(s[0]) / floor);
  figure(prefix + "bounded_run_true_process_group_ratio", median(s[1]) / floor);
  if (contained_floor) {
    // The kernel's part of the default containment alone, against the same
    // floor: what no contained bounded-run can cost less than.
    figure(prefix + "contained_wrapper_true_ms", median(s[4]));
    figure(prefix + "contained_wrapper_true_ratio", median(s[4]) / floor);
    figure(prefix + "bounded_run_true_vs_contained_wrapper", median(s[0]) / median(s[4]));
  }
  goal(prefix + "bounded_run_true_ratio", median(s[0]) / floor, 1.2);
  goal(prefix + "bounded_run_true_process_group_ratio", median(s[1]) / floor, 1.2);
}

}  // namespace

void section_cli() {
  note("cli: bounded-run -- true, whole processes; default containment here is " +
       std::string(bounded_subprocess::to_string(bounded_subprocess::strongest_containment())) +
       "; floor: bs_spawn_wrapper true (posix_spawnp, drain, waitpid)");
  const bool contained_floor = contained_floor_here();
  note(contained_floor ? "cli: also bs_contained_wrapper true (the default containment's kernel work alone)"
                       : "cli: bs_contained_wrapper cannot run here (it needs root and a cgroup v2 folder)");
  for (int i = 0; i < 3; ++i) {
    per_run({BS_BENCH_BOUNDED_RUN, "--", "true"})();
    per_run({BS_BENCH_SPAWN_WRAPPER, "true"})();
  }
  measure("cli_", scaled(15), contained_floor);
  const long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  BusyLoops busy(cpus);
  note("cli: " + std::to_string(busy.size()) + " busy loops started (one per CPU)");
  measure("cli_loaded_", scaled(11), contained_floor);
}

}  // namespace bsbench
