// Section for `bounded-run batch`: many short jobs against xargs, many
// concurrent sleeps against a bare spawn-all-and-wait loop, and the batch's
// own peak RSS as the number of jobs grows.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "bare.hpp"
#include "bench_util.hpp"
#include "bounded_subprocess/containment.hpp"
#include "sections.hpp"

#ifndef BS_BENCH_BOUNDED_RUN
#error "BS_BENCH_BOUNDED_RUN must be defined by bench/CMakeLists.txt"
#endif

extern char** environ;

namespace bsbench {
namespace {

struct Outcome {
  double wall_ms = 0;
  double cpu_ms = 0;  // user + system of the process and of every descendant it reaped
  long max_rss_kb = 0;
  int status = -1;
};

// Runs argv in a new session (as the library starts its children, so that
// autogroup scheduling treats both sides alike) with stdin from `input` and
// stdout/stderr to /dev/null; waits and returns its wall time and peak RSS.
Outcome timed(const std::vector<std::string>& argv, const std::string& input) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, input.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const auto t0 = Clock::now();
  const int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawnp " + argv[0]);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  const double cpu_ms = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
                        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  Outcome o{ms_since(t0), cpu_ms, usage.ru_maxrss,
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
  if (o.status != 0)
    fail(argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " exited " + std::to_string(o.status));
  return o;
}

std::string scratch_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/bs_bench_batch_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
  return tmpl;
}

// A JOBS file of `n` jobs running `program` with `arg`.
std::string write_jobs(const std::string& dir, const std::string& name, int n, const std::string& program,
                       const std::string& arg) {
  const std::string path = dir + "/" + name;
  std::ofstream f(path);
  for (int i = 0; i < n; ++i) {
    f << "{\"id\":\"job-" << i << "\",\"args\":[\"" << program << "\""
      << (arg.empty() ? "" : ",\"" + arg + "\"") << "],\"timeout\":60}\n";
  }
  return path;
}

// `containment` empty: the default (the strongest the machine allows).
std::vector<std::string> batch_argv(const std::string& jobs, int parallel,
                                    const std::string& containment = "") {
  std::vector<std::string> argv{BS_BENCH_BOUNDED_RUN,     "batch",  jobs, "--parallel",
                                std::to_string(parallel), "--quiet"};
  if (!containment.empty()) argv.insert(argv.end(), {"--containment", containment});
  return argv;
}

void many_true(const std::string& dir) {
  const int n = scaled(2000);
  const std::string jobs = write_jobs(dir, "true.jsonl", n, "true", "");
  const std::string words = dir + "/words";
  {
    std::ofstream f(words);
    for (int i = 0; i < n; ++i) f << "job-" << i << "\n";
  }
  // xargs runs the same program once per line (`true job-N`), 2 at a time.
  // The goal is for the batch without containment (the process group, as
  // xargs); the default containment's cost is printed beside it.
  std::vector<double> batch_cpu, xargs_cpu, contained_cpu;
  auto batch = [&] {
    const Outcome o = timed(batch_argv(jobs, 2, "process_group"), "/dev/null");
    batch_cpu.push_back(o.cpu_ms);
    return o.wall_ms;
  };
  auto contained = [&] {
    const Outcome o = timed(batch_argv(jobs, 2), "/dev/null");
    contained_cpu.push_back(o.cpu_ms);
    return o.wall_ms;
  };
  auto xargs = [&] {
    const Outcome o = timed({"xargs", "-P", "2", "-n", "1", "true"}, words);
    xargs_cpu.push_back(o.cpu_ms);
    return o.wall_ms;
  };
  const auto s = interleave(3, {batch, xargs, contained});
  const double a = median(s[0]), b = median(s[1]), c = median(s[2]);
  const std::string pre = "batch_" + std::to_string(n) + "_true_p2_";
  figure(pre + "process_group_wall_ms", a, 1);
  figure(pre + "xargs_wall_ms", b, 1);
  figure(pre + "process_group_ratio", a / b);
  figure(pre + "default_containment_wall_ms", c, 1);
  figure(pre + "default_containment_ratio", c / b);
  // CPU time (the jobs' included) does not depend on how the scheduler
  // shares a busy machine: each job of the batch is a session of its own,
  // which autogroup scheduling gives a CPU share of its own, while xargs'
  // jobs share one.
  const double ca = median(batch_cpu), cb = median(xargs_cpu), cc = median(contained_cpu);
  figure(pre + "process_group_cpu_ms", ca, 1);
  figure(pre + "xargs_cpu_ms", cb, 1);
  figure(pre + "process_group_cpu_ratio", ca / cb);
  figure(pre + "default_containment_cpu_ms", cc, 1);
  figure(pre + "default_containment_cpu_ratio", cc / cb);
  goal(pre + "process_group_ratio", a / b, 1.0);
  // The default containment against the same batch without it.
  figure(pre + "default_vs_process_group_ratio", c / a);
  goal(pre + "default_vs_process_group_ratio", c / a, 1.10);
  note("batch: the default containment here is " +
       std::string(bounded_subprocess::to_string(bounded_subprocess::strongest_containment())) +
       "; no helper process per job under process_group, one init per job under the others");
}

void many_sleeps(const std::string& dir) {
  const long nofile = raise_nofile_limit();
  const int n = scaled(1000);
  if (nofile >= 0 && nofile < 4 * n + 64) {
    note("batch: sleeps skipped: RLIMIT_NOFILE hard limit " + std::to_string(nofile) + " is too low");
    return;
  }
  const std::string jobs = write_jobs(dir, "sleep.jsonl", n, "sleep", "1");
  const auto s = interleave(2, {[&] { return timed(batch_argv(jobs, n), "/dev/null").wall_ms; },
                                [&] {
                                  return bare_many_ms({"sleep", "1"}, n);
                                }});
  const double a = median(s[0]), b = median(s[1]);
  const std::string pre = "batch_" + std::to_string(n) + "_sleep1_p" + std::to_string(n) + "_";
  figure(pre + "wall_ms", a, 1);
  figure(pre + "bare_wall_ms", b, 1);
  figure(pre + "ratio", a / b);
  goal(pre + "ratio", a / b, 1.10);
}

void peak_rss(const std::string& dir) {
  const int small = scaled(10000), large = scaled(100000);
  const std::string a = write_jobs(dir, "rss-small.jsonl", small, "true", "");
  const std::string b = write_jobs(dir, "rss-large.jsonl", large, "true", "");
  const Outcome os = timed(batch_argv(a, 4), "/dev/null");
  const Outcome ol = timed(batch_argv(b, 4), "/dev/null");
  figure("batch_" + std::to_string(small) + "_jobs_peak_rss_kb", static_cast<double>(os.max_rss_kb), 0);
  figure("batch_" + std::to_string(large) + "_jobs_peak_rss_kb", static_cast<double>(ol.max_rss_kb), 0);
  figure("batch_peak_rss_growth_kb", static_cast<double>(ol.max_rss_kb - os.max_rss_kb), 0);
  figure("batch_" + std::to_string(large) + "_jobs_per_s", large / (ol.wall_ms / 1000.0), 1);
}

}  // namespace

void section_batch() {
  const std::string dir = scratch_dir();
  try {
    many_true(dir);
    many_sleeps(dir);
    peak_rss(dir);
  } catch (...) {
    std::filesystem::remove_all(dir);
    throw;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace bsbench
