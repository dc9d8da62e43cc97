// Sections for the synchronous `run`: spawn overhead, draining, timeout.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bare.hpp"
#include "bench_util.hpp"
#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/run.hpp"
#include "sections.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace bsbench {

namespace {

constexpr int kBatch = 20;

// Milliseconds per `run` of `true` over a batch, under `c` (the default
// containment when absent).
double ms_per_run_of_true(std::optional<bs::Containment> c) {
  const std::vector<std::string> argv{"true"};
  const auto t0 = Clock::now();
  for (int i = 0; i < kBatch; ++i) {
    const bs::Result r = bs::run(argv, {.containment = c});
    if (r.exit_code != 0) fail("run(true) exit_code " + std::to_string(r.exit_code));
  }
  return ms_since(t0) / kBatch;
}

// The floor: a bare posix_spawn + drain + waitpid of `argv`, ms per run.
double bare_ms_per_run(const std::vector<std::string>& argv) {
  const auto t0 = Clock::now();
  for (int i = 0; i < kBatch; ++i) {
    const int status = bare_run_drain(argv);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("bare " + argv[0] + " failed");
  }
  return ms_since(t0) / kBatch;
}

// Warms up every path (page cache, dynamic linking of `true`, the probe,
// the warm sandboxes).
void warm_up(const std::vector<std::string>& argv) {
  for (int i = 0; i < 5; ++i) {
    bs::run(argv);
    bare_run_drain(argv);
  }
}

}  // namespace

void section_run_true() {
  const std::vector<std::string> argv{"true"};
  warm_up(argv);
  auto lib = [](std::optional<bs::Containment> c) { return [c] { return ms_per_run_of_true(c); }; };
  auto floor = [&] { return bare_ms_per_run(argv); };
  // The default (the strongest containment here) and each mechanism, against
  // the uncontained floor (posix_spawn, drain, waitpid), interleaved.
  std::vector<std::function<double()>> sides = {lib(std::nullopt), floor};
  std::vector<bs::Containment> mechanisms;
  for (auto c : {bs::Containment::process_group, bs::Containment::subreaper, bs::Containment::pid_namespace,
                 bs::Containment::cgroup}) {
    if (!bs::containment_available(c)) continue;
    mechanisms.push_back(c);
    sides.push_back(lib(c));
  }
  // What the containment itself costs the kernel, with nothing of ours:
  // the contained floors (bare.hpp) of the two mechanisms that use
  // namespaces, where this machine can measure them.
  std::vector<std::pair<bs::Containment, std::unique_ptr<BareContained>>> contained;
  std::string true_path = path_of("true");
  char* const true_argv[] = {true_path.data(), nullptr};
  for (auto c : {bs::Containment::pid_namespace, bs::Containment::cgroup}) {
    if (!bs::containment_available(c)) continue;
    try {
      auto bare = std::make_unique<BareContained>(c == bs::Containment::cgroup, 1);
      for (int i = 0; i < 5; ++i) bare->run_drain(true_argv);  // warm up; throws where it cannot
      contained.emplace_back(c, std::move(bare));
    } catch (const std::exception& e) {
      note("run_true: no contained floor for " + std::string(bs::to_string(c)) + ": " + e.what());
      continue;
    }
    BareContained& bare = *contained.back().second;
    sides.push_back([&bare, &true_argv] {
      const auto t0 = Clock::now();
      for (int i = 0; i < kBatch; ++i) {
        const int status = bare.run_drain(true_argv);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("contained floor: true failed");
      }
      return ms_since(t0) / kBatch;
    });
  }
  const auto s = interleave(scaled(15), sides);
  const double a = median(s[0]), b = median(s[1]);
  note("run_true: default containment here is " + std::string(bs::to_string(bs::strongest_containment())));
  figure("run_true_ms", a);
  figure("run_true_floor_ms", b);
  figure("run_true_ratio", a / b);
  goal("run_true_ratio", a / b, 1.10);
  for (std::size_t i = 0; i < mechanisms.size(); ++i) {
    const std::string name = "run_true_" + std::string(bs::to_string(mechanisms[i]));
    figure(name + "_ms", median(s[i + 2]));
    figure(name + "_ratio", median(s[i + 2]) / b);
  }
  // The contained floor against the uncontained one (what the containment
  // costs by itself), and the library's run against its contained floor
  // (what the library adds to it).
  for (std::size_t i = 0; i < contained.size(); ++i) {
    const bs::Containment c = contained[i].first;
    const double fl = median(s[2 + mechanisms.size() + i]);
    const auto m = std::find(mechanisms.begin(), mechanisms.end(), c) - mechanisms.begin();
    const std::string name = "run_true_" + std::string(bs::to_string(c));
    figure(name + "_contained_floor_ms", fl);
    figure(name + "_contained_floor_ratio", fl / b);
    figure(name + "_vs_contained_floor", median(s[2 + static_cast<std::size_t>(m)]) / fl);
  }
}

// run of `true` with the default containment against the uncontained floor
// while every CPU is kept busy by a spinning process of ours (an evaluation
// harness runs its jobs like that): the end of a namespace waits for RCU
// grace periods, which a busy machine stretches.
void section_run_loaded() {
  const std::vector<std::string> argv{"true"};
  warm_up(argv);
  const long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  BusyLoops busy(cpus);
  note("run_loaded: " + std::to_string(cpus) + " busy loops started");
  auto floor = [&] { return bare_ms_per_run(argv); };
  const auto s = interleave(scaled(7), {[] { return ms_per_run_of_true(std::nullopt); }, floor,
                                        [] { return ms_per_run_of_true(bs::Containment::process_group); }});
  const double a = median(s[0]), b = median(s[1]);
  note("run_loaded: default containment here is " + std::string(bs::to_string(bs::strongest_containment())));
  figure("run_loaded_ms", a);
  figure("run_loaded_floor_ms", b);
  figure("run_loaded_ratio", a / b);
  goal("run_loaded_ratio", a / b, 1.3);
  figure("run_loaded_process_group_ratio", median(s[2]) / b);
}

namespace {

// `n` idle processes (forks that pause) of a keeper process of their own, a
// fresh bs_bench (so that they share the keeper's few pages, not ours: the
// copy-on-write faults of our writes would be the cost measured), alive
// while this lives.
class Crowd {
 public:
  explicit Crowd(int n) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return;
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::string self = "/proc/self/exe", mode = "--crowd-keeper", count = std::to_string(n);
    char* args[] = {self.data(), mode.data(), count.data(), nullptr};
    if (::posix_spawn(&keeper_, self.c_str(), &actions, nullptr, args, environ) != 0) keeper_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    to_keeper_ = in[1];
    char line[32] = {};
    if (keeper_ > 0 && ::read(out[0], line, sizeof line - 1) > 0) size_ = std::atoi(line);
    ::close(out[0]);
  }
  ~Crowd() {
    ::close(to_keeper_);  // EOF: the keeper kills and reaps them, then exits
    if (keeper_ > 0) ::waitpid(keeper_, nullptr, 0);
  }
  Crowd(const Crowd&) = delete;
  Crowd& operator=(const Crowd&) = delete;
  int size() const { return size_; }

 private:
  pid_t keeper_ = -1;
  int to_keeper_ = -1;
  int size_ = 0;
};

}  // namespace

int crowd_keeper(int n) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) break;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) ::pause();
    }
    pids.push_back(pid);
  }
  std::printf("%zu\n", pids.size());
  std::fflush(stdout);
  for (char c; ::read(0, &c, 1) < 0 && errno == EINTR;) {
  }
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
  return 0;
}

void section_crowd() {
  // The end of a contained run must cost what the run holds, not what the
  // machine runs (kill(-1) walks every process of the machine): `run` of
  // `true` with the default containment while 4,000 idle processes of ours
  // live, against the same with none. Each crowded round starts its own
  // crowd (untimed) and ends it before the next quiet round.
  const int crowd_size = 4000;
  for (int i = 0; i < 5; ++i) bs::run({"true"});
  auto runs = [] { return ms_per_run_of_true(std::nullopt); };
  int started = 0;
  auto crowded = [&] {
    const Crowd crowd(crowd_size);
    started = crowd.size();
    return runs();
  };
  const auto s = interleave(scaled(8), {runs, crowded});
  if (started != crowd_size)
    note("crowd: only " + std::to_string(started) + " idle processes could be started");
  const double quiet = median(s[0]), busy = median(s[1]);
  note("crowd: default containment here is " + std::string(bs::to_string(bs::strongest_containment())));
  figure("crowd_run_true_quiet_ms", quiet);
  figure("crowd_run_true_4000_idle_ms", busy);
  figure("crowd_ratio", busy / quiet);
  goal("crowd_ratio", busy / quiet, 1.10);
}

void section_drain() {
  constexpr std::uint64_t kBytes = 268435456;  // 256 MiB
  const std::vector<std::string> argv{"head", "-c", std::to_string(kBytes), "/dev/zero"};
  const std::vector<std::string> floor_argv{
      "sh", "-c", "head -c " + std::to_string(kBytes) + " /dev/zero | cat > /dev/null"};
  auto lib = [&](bool tail) {
    return [&argv, tail] {
      const auto t0 = Clock::now();
      const bs::Result r = bs::run(argv, {.timeout = 60s, .max_output_size = 1024, .tail = tail});
      const double ms = ms_since(t0);
      if (r.exit_code != 0 || r.out.total_bytes != kBytes || r.out.data.size() != 1024 || !r.out.truncated ||
          r.out.data != std::string(1024, '\0')) {
        fail("drain run: " + r.str());
      }
      return ms;
    };
  };
  auto floor = [&] {
    const auto t0 = Clock::now();
    const int status = bare_run_drain(floor_argv);
    const double ms = ms_since(t0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("drain floor failed");
    return ms;
  };
  const auto s = interleave(scaled(5), {lib(false), lib(true), floor});
  const double head = median(s[0]), tail = median(s[1]), fl = median(s[2]);
  figure("drain_256mib_ms", head, 1);
  figure("drain_256mib_floor_ms", fl, 1);
  figure("drain_256mib_ratio", head / fl);
  figure("drain_256mib_gib_per_s", 0.25 / (head / 1000.0), 2);
  figure("drain_256mib_tail_ms", tail, 1);
  figure("drain_256mib_tail_ratio", tail / fl);
  goal("drain_256mib_ratio", head / fl, 1.0);
}

void section_timeout() {
  const std::vector<std::string> argv{"sleep", "10"};
  const double timeout_s = 0.2;
  std::vector<double> after_spawn;
  auto lib = [&] {
    const auto t0 = Clock::now();
    const bs::Result r = bs::run(argv, {.timeout = bs::Seconds(timeout_s)});
    const double late = ms_since(t0) - timeout_s * 1000.0;
    if (!r.timeout || r.exit_code != -1) fail("timeout run: " + r.str());
    after_spawn.push_back(r.elapsed.count() * 1000.0 - timeout_s * 1000.0);
    return late;
  };
  auto floor = [&] { return bare_timeout_late_ms(argv, timeout_s); };
  const auto s = interleave(scaled(10), {lib, floor});
  // Lateness measured around the call (spawn cost included), the stricter view.
  figure("timeout_late_median_ms", median(s[0]));
  figure("timeout_late_worst_ms", worst(s[0]));
  // The library's own `elapsed` (from the spawn) minus the timeout.
  figure("timeout_late_elapsed_median_ms", median(after_spawn));
  figure("timeout_late_elapsed_worst_ms", worst(after_spawn));
  figure("timeout_late_floor_median_ms", median(s[1]));
  figure("timeout_late_floor_worst_ms", worst(s[1]));
  goal("timeout_late_worst_ms", worst(s[0]), 2.0);
}

}  // namespace bsbench
