// bs_bench: the one bench command of bounded_subprocess.
//
//   bs_bench [--quick] [SECTION...]
//
// Prints one `name: value` line per figure (units in the name); lines that
// start with '#' are context, skip reasons and goal verdicts. Every figure is
// compared with a floor measured in the same run, interleaved with it
// (A B A B ...), and reported as a median, so ratios hold on a noisy machine.
// Sections: run, crowd, drain, timeout, async, watchdog, interactive, podman, isolation,
// batch, cli (all by default), and storm (only when named: it loads the machine). --quick divides
// the repetition counts by four. Exit status: 0 when every measured operation behaved, 1
// otherwise (goals missed do not change it: they are reported as `# goal ... MISSED`).
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "bounded_subprocess/containment.hpp"
#include "sections.hpp"

namespace {

struct Section {
  const char* name;
  void (*fn)();
  const char* missing;  // non-null: why it cannot run in this build
};

const std::vector<Section>& all_sections() {
  static const std::vector<Section> s{
      {"run", bsbench::section_run_true, nullptr},
      {"run_loaded", bsbench::section_run_loaded, nullptr},
      {"crowd", bsbench::section_crowd, nullptr},
      {"drain", bsbench::section_drain, nullptr},
      {"timeout", bsbench::section_timeout, nullptr},
      {"stream", bsbench::section_stream, nullptr},
      {"async", bsbench::section_async_many, nullptr},
      {"watchdog", bsbench::section_watchdog, nullptr},
#ifdef BS_BENCH_HAVE_INTERACTIVE
      {"interactive", bsbench::section_interactive, nullptr},
#else
      {"interactive", nullptr, "Interactive is not built (BS_BENCH_WITH_INTERACTIVE=OFF)"},
#endif
      {"podman", bsbench::section_podman, nullptr},
      {"isolation", bsbench::section_isolation, nullptr},
#ifdef BS_BENCH_HAVE_BATCH
      {"batch", bsbench::section_batch, nullptr},
      {"cli", bsbench::section_cli, nullptr},
#else
      {"batch", nullptr, "bounded-run is not built (-DBOUNDED_SUBPROCESS_CLI=OFF)"},
      {"cli", nullptr, "bounded-run is not built (-DBOUNDED_SUBPROCESS_CLI=OFF)"},
#endif
#ifdef BS_BENCH_HAVE_STORM
      // Not among the defaults: it loads the machine with thousands of
      // processes for minutes (bs_bench storm).
      {"storm", bsbench::section_storm, nullptr},
#else
      {"storm", nullptr, "bounded-run or bs_misbehave is not built"},
#endif
  };
  return s;
}

void print_context() {
  utsname u{};
  uname(&u);
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  bsbench::note(std::string("bs_bench: kernel ") + u.release + ", " +
                std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cpus, load " + load +
                "; figures are medians of interleaved rounds, floors measured in this run");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--crowd-keeper") == 0)
    return bsbench::crowd_keeper(std::atoi(argv[2]));
  std::vector<std::string> wanted;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      bsbench::set_quick(true);
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: bs_bench [--quick] [SECTION...]\nsections:");
      for (const auto& s : all_sections()) std::printf(" %s", s.name);
      std::printf("\n");
      return 0;
    } else {
      bool known = false;
      for (const auto& s : all_sections()) known = known || s.name == std::string(argv[i]);
      if (!known) {
        std::fprintf(stderr, "bs_bench: unknown section '%s' (try --help)\n", argv[i]);
        return 2;
      }
      wanted.emplace_back(argv[i]);
    }
  }
  print_context();
  const auto start = bsbench::Clock::now();
  for (const auto& s : all_sections()) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), s.name) == wanted.end()) {
      continue;
    }
    if (wanted.empty() && std::strcmp(s.name, "storm") == 0) continue;  // only when named
    if (s.fn == nullptr) {
      bsbench::note(std::string(s.name) + ": skipped: " + s.missing);
      continue;
    }
    try {
      s.fn();
    } catch (const std::exception& e) {
      bsbench::fail(std::string(s.name) + ": " + e.what());
    }
  }
  bsbench::figure("bench_total_s", bsbench::ms_since(start) / 1000.0, 1);
  // Every run, floor or library, must have been reaped (the library's idle
  // warm sandboxes are its cache: they go first).
  bounded_subprocess::drop_warm_sandboxes();
  if (const int left = bsbench::count_children(); left != 0) {
    bsbench::fail(std::to_string(left) + " child processes of bs_bench left (not reaped)");
  }
  bsbench::print_goals();
  return bsbench::failed() ? 1 : 0;
}
