// Sections for `async_run`: many concurrent runs on one io_context, and the
// parent's CPU cost of the shared memory watchdog.
#include <asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bare.hpp"
#include "bench_util.hpp"
#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/containment.hpp"
#include "sections.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace bsbench {
namespace {

struct Batch {
  double wall_ms = 0;
  double cpu_ms = 0;
  std::uint64_t scans = 0;
};

// Starts `n` runs of `argv` on one io_context, runs it until all completed.
Batch async_batch(const std::vector<std::string>& argv, int n, const bs::Options& options) {
  asio::io_context ctx;
  int ok = 0, completed = 0;
  std::string first_error;
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    bs::async_run(ctx, argv, options, [&](std::error_code error, bs::Result r) {
      ++completed;
      if (error) {
        if (first_error.empty()) first_error = error.message();
      } else if (r.exit_code == 0) {
        ++ok;
      } else if (first_error.empty()) {
        first_error = r.str();
      }
    });
  }
  ctx.run();
  Batch b{ms_since(t0), (cpu_seconds() - cpu0) * 1000.0, bs::detail::memory_watchdog_scans(ctx)};
  if (ok != n) {
    fail("async batch: " + std::to_string(ok) + " of " + std::to_string(n) + " ok (" +
         std::to_string(completed) + " completed): " + first_error);
  }
  return b;
}

}  // namespace

void section_async_many() {
  const long nofile = raise_nofile_limit();
  const int n = scaled(1000);
  if (nofile >= 0 && nofile < 4 * n + 64) {
    note("async: skipped: RLIMIT_NOFILE hard limit " + std::to_string(nofile) + " is below the " +
         std::to_string(4 * n + 64) + " fds " + std::to_string(n) + " concurrent runs need");
    return;
  }
  const std::vector<std::string> argv{"sleep", "1"};
  bs::Options opts;
  opts.timeout = 60s;
  std::vector<double> lib_cpu, floor_cpu;
  auto lib = [&] {
    const Batch b = async_batch(argv, n, opts);
    lib_cpu.push_back(b.cpu_ms);
    return b.wall_ms;
  };
  auto floor = [&] {
    const double cpu0 = cpu_seconds();
    const double ms = bare_many_ms(argv, n);
    floor_cpu.push_back((cpu_seconds() - cpu0) * 1000.0);
    return ms;
  };
  std::vector<std::function<double()>> sides = {lib, floor};
  // The default containment's kernel work with nothing of ours (bare.hpp),
  // where this machine can measure it.
  const bs::Containment c = bs::strongest_containment();
  std::unique_ptr<BareContained> contained;
  std::string sleep_path = path_of("sleep"), one = "1";
  char* const sleep_argv[] = {sleep_path.data(), one.data(), nullptr};
  if (c == bs::Containment::pid_namespace || c == bs::Containment::cgroup) {
    try {
      contained = std::make_unique<BareContained>(c == bs::Containment::cgroup, n);
    } catch (const std::exception& e) {
      note(std::string("async: no contained floor: ") + e.what());
    }
  }
  std::vector<double> contained_cpu;
  if (contained) {
    sides.push_back([&] {
      const double cpu0 = cpu_seconds();
      const double ms = bare_many_contained_ms(*contained, sleep_argv, n);
      contained_cpu.push_back((cpu_seconds() - cpu0) * 1000.0);
      return ms;
    });
  }
  const auto s = interleave(scaled(8) / 4 + 1, sides);
  const double a = median(s[0]), b = median(s[1]);
  const std::string pre = "async_" + std::to_string(n) + "_sleep1_";
  note("async: default containment here is " + std::string(bs::to_string(c)));
  figure(pre + "wall_ms", a, 1);
  figure(pre + "floor_wall_ms", b, 1);
  figure(pre + "ratio", a / b);
  figure(pre + "cpu_ms", median(lib_cpu), 1);
  figure(pre + "floor_cpu_ms", median(floor_cpu), 1);
  if (contained) {
    // What the containment costs by itself, and what the library adds to it.
    const double fl = median(s[2]);
    figure(pre + "contained_floor_wall_ms", fl, 1);
    figure(pre + "contained_floor_cpu_ms", median(contained_cpu), 1);
    figure(pre + "contained_floor_ratio", fl / b);
    figure(pre + "vs_contained_floor", a / fl);
  }
  goal(pre + "ratio", a / b, 1.10);
}

void section_watchdog() {
  raise_nofile_limit();
  const int n = scaled(200);
  const std::vector<std::string> argv{"sleep", "1"};
  bs::Options plain;
  plain.timeout = 60s;
  bs::Options watched = plain;
  watched.memory_limit_mb = 1024;
  watched.memory_watchdog_interval = 50ms;
  std::vector<double> cpu_plain, cpu_watched, wall_plain, wall_watched;
  std::uint64_t scans = 0;
  auto with = [&] {
    const Batch b = async_batch(argv, n, watched);
    cpu_watched.push_back(b.cpu_ms);
    scans = b.scans;
    return b.wall_ms;
  };
  auto without = [&] {
    const Batch b = async_batch(argv, n, plain);
    cpu_plain.push_back(b.cpu_ms);
    return b.wall_ms;
  };
  const auto s = interleave(scaled(3), {with, without});
  const std::string pre = "watchdog_" + std::to_string(n) + "_sleep1_";
  const double cw = median(cpu_watched), cp = median(cpu_plain);
  figure(pre + "50ms_cpu_ms", cw, 1);
  figure(pre + "nolimit_cpu_ms", cp, 1);
  figure(pre + "cpu_diff_ms", cw - cp, 1);
  figure(pre + "50ms_wall_ms", median(s[0]), 1);
  figure(pre + "nolimit_wall_ms", median(s[1]), 1);
  // One /proc scan per tick for all runs of the io_context (last round).
  figure(pre + "proc_scans", static_cast<double>(scans), 0);
  if (scans > 0) figure(pre + "cpu_diff_per_scan_ms", (cw - cp) / static_cast<double>(scans));
  // The watchdog's share of one core while the watched runs last.
  const double core_pct = 100.0 * (cw - cp) / median(s[0]);
  figure(pre + "50ms_core_percent", core_pct, 1);
  goal(pre + "50ms_core_percent", core_pct, 5.0);
}

}  // namespace bsbench
