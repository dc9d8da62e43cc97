// The isolation section: a fully isolated run of `true` (network none,
// read-only view, 64 MiB scratch, 256 MiB kernel memory limit where the
// machine has a memory cgroup, 64 pids), in-process against the uncontained
// floor (posix_spawn, drain, waitpid); then whole processes: `bounded-run`
// with the same flags against bubblewrap's `--unshare-all --ro-bind / /
// --tmpfs /tmp --proc /proc --dev /dev true` and a plain spawn of `true`,
// with podman's `--network=none` run of `true` printed beside them.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bare.hpp"
#include "bench_util.hpp"
#include "bounded_subprocess/run.hpp"
#include "sections.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace bsbench {

namespace {

constexpr int kBatch = 20;

bs::Isolation full_isolation() {
  bs::Isolation i{.network = bs::Network::none, .read_only = true, .scratch_mb = 64, .pids_limit = 64};
  if (bs::kernel_memory_limit_available()) i.memory_limit_mb = 256;
  return i;
}

double ms_per_run(const bs::Options& o) {
  const auto t0 = Clock::now();
  for (int i = 0; i < kBatch; ++i) {
    const bs::Result r = bs::run({"true"}, o);
    if (r.exit_code != 0) fail("isolated run(true): " + r.str() + " " + r.err.data);
  }
  return ms_since(t0) / kBatch;
}

// Milliseconds per whole-process run of `argv` (bare spawn, drain, wait).
std::function<double()> whole(std::vector<std::string> argv, int batch) {
  return [argv = std::move(argv), batch] {
    const auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) {
      const int status = bare_run_drain(argv);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail(argv[0] + " of true failed");
    }
    return ms_since(t0) / batch;
  };
}

// Whether a cgroup2 hierarchy is mounted with favordynmods (which keeps
// the kernel's cgroup_threadgroup_rwsem ready for writers, see above).
bool favordynmods() {
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);)
    if (line.find(" cgroup2 ") != std::string::npos && line.find("favordynmods") != std::string::npos)
      return true;
  return false;
}

bool runs(const std::vector<std::string>& argv) {
  const bs::Result r = bs::run(argv, {.timeout = 120s});
  return r.exit_code == 0;
}

}  // namespace

void section_isolation() {
  if (!bs::containment_available(bs::Containment::pid_namespace)) {
    note("isolation: skipped: no PID namespace here, so no isolation");
    return;
  }
  const bs::Options isolated{.isolation = full_isolation()};
  note(std::string("isolation: network none, read-only, scratch 64 MiB, pids 64, ") +
       (isolated.isolation->memory_limit_mb ? "kernel memory limit 256 MiB"
                                            : "no memory cgroup here (no memory limit)"));
  for (int i = 0; i < 5; ++i) {
    bs::run({"true"}, isolated);
    bare_run_drain({"true"});
  }
  const bs::Options contained{};
  const bs::Options network_only{.isolation = bs::Isolation{.network = bs::Network::none}};
  const bs::Options files_only{.isolation = bs::Isolation{.read_only = true, .scratch_mb = 64}};
  const bs::Options no_limits{
      .isolation = bs::Isolation{.network = bs::Network::none, .read_only = true, .scratch_mb = 64}};
  // Each limit alone on top of that: what its cgroup costs a run.
  bs::Options pids_only = no_limits;
  pids_only.isolation->pids_limit = 64;
  bs::Options memory_only = no_limits;
  memory_only.isolation->memory_limit_mb = isolated.isolation->memory_limit_mb;
  note(std::string("isolation: the cgroup2 hierarchy is mounted ") + (favordynmods() ? "with" : "without") +
       " favordynmods (without it, a process joining a cgroup v1 limit cgroup waits for an RCU grace "
       "period unless another join came just before)");
  const auto s = interleave(scaled(15),
                            {[&] { return ms_per_run(isolated); }, whole({"true"}, kBatch),
                             [&] { return ms_per_run(contained); }, [&] { return ms_per_run(network_only); },
                             [&] { return ms_per_run(files_only); }, [&] { return ms_per_run(no_limits); },
                             [&] { return ms_per_run(pids_only); }, [&] { return ms_per_run(memory_only); }});
  const double iso = median(s[0]), floor = median(s[1]);
  figure("isolated_true_ms", iso);
  figure("isolated_true_floor_ms", floor);
  figure("isolated_true_ratio", iso / floor);
  goal("isolated_true_ratio", iso / floor, 1.3);
  figure("isolated_true_contained_only_ms", median(s[2]));
  figure("isolated_true_network_none_only_ms", median(s[3]));
  figure("isolated_true_read_only_scratch_only_ms", median(s[4]));
  figure("isolated_true_without_limits_ms", median(s[5]));
  figure("isolated_true_without_limits_ratio", median(s[5]) / floor);
  figure("isolated_true_without_limits_plus_pids_limit_ms", median(s[6]));
  if (memory_only.isolation->memory_limit_mb)
    figure("isolated_true_without_limits_plus_memory_limit_ms", median(s[7]));

#ifdef BS_BENCH_HAVE_BATCH
  // Whole processes.
  std::vector<std::string> bounded{BS_BENCH_BOUNDED_RUN, "--network", "none",         "--read-only",
                                   "--scratch-mb",       "64",        "--pids-limit", "64"};
  if (bs::kernel_memory_limit_available()) {
    bounded.insert(bounded.end(), {"--memory-limit-mb", "256"});
  }
  bounded.insert(bounded.end(), {"--", "true"});
  // What bwrap's command below gives too: no network, a read-only view, a
  // tmpfs at /tmp; no limit (bubblewrap sets none).
  const std::vector<std::string> bounded_no_limits{BS_BENCH_BOUNDED_RUN, "--network", "none", "--read-only",
                                                   "--scratch-mb",       "64",        "--",   "true"};
  const std::vector<std::string> bwrap{"bwrap", "--unshare-all", "--ro-bind", "/",     "/",    "--tmpfs",
                                       "/tmp",  "--proc",        "/proc",     "--dev", "/dev", "true"};
  std::vector<std::function<double()>> sides{whole(bounded, 10), whole({"true"}, 10),
                                             whole(bounded_no_limits, 10)};
  const bool have_bwrap = runs(bwrap);
  if (have_bwrap)
    sides.push_back(whole(bwrap, 10));
  else
    note("isolation: bubblewrap (bwrap) cannot run here: no comparison with it");
  const auto w = interleave(scaled(12), sides);
  figure("bounded_run_isolated_true_ms", median(w[0]));
  figure("spawn_true_ms", median(w[1]));
  figure("bounded_run_isolated_without_limits_true_ms", median(w[2]));
  if (have_bwrap) {
    figure("bwrap_true_ms", median(w[3]));
    figure("bounded_run_vs_bwrap_ratio", median(w[0]) / median(w[3]));
    goal("bounded_run_vs_bwrap_ratio", median(w[0]) / median(w[3]), 1.0);
    figure("bounded_run_without_limits_vs_bwrap_ratio", median(w[2]) / median(w[3]));
  }
#else
  note("isolation: bounded-run is not built: no whole-process comparison");
#endif

  // podman, beside them (its own image and configuration, as the podman section).
  ::setenv("CONTAINERS_CONF", BS_BENCH_CONTAINERS_CONF, 0);
  const char* env_image = std::getenv("BS_BENCH_PODMAN_IMAGE");
  const std::string image = env_image != nullptr && *env_image != '\0' ? env_image : BS_BENCH_PODMAN_IMAGE;
  const std::vector<std::string> podman{"podman", "run", "--rm", "-i", "--network=none", image, "true"};
  if (!runs(podman)) {
    note("isolation: podman cannot run " + image + " here: no podman figure");
    return;
  }
  const auto p = interleave(scaled(8) < 2 ? 2 : scaled(8), {whole(podman, 1)});
  figure("podman_network_none_true_ms", median(p[0]));
}

}  // namespace bsbench
