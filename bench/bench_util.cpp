// Shared helpers of bs_bench; see bench_util.hpp.
#include "bench_util.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace bsbench {
namespace {

struct GoalRecord {
  std::string name;
  double value;
  double limit;
};

std::vector<GoalRecord>& goals() {
  static std::vector<GoalRecord> g;
  return g;
}

bool g_failed = false;
bool g_quick = false;

}  // namespace

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

double worst(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
}

void figure(std::string_view name, double value, int decimals) {
  std::printf("%.*s: %.*f\n", static_cast<int>(name.size()), name.data(), decimals, value);
  std::fflush(stdout);
}

void note(std::string_view text) {
  std::printf("# %.*s\n", static_cast<int>(text.size()), text.data());
  std::fflush(stdout);
}

void goal(std::string_view name, double value, double limit) {
  goals().push_back({std::string(name), value, limit});
}

void print_goals() {
  for (const auto& g : goals()) {
    char line[256];
    std::snprintf(line, sizeof line, "goal %s <= %g: %s (value %.3f)", g.name.c_str(), g.limit,
                  g.value <= g.limit ? "met" : "MISSED", g.value);
    note(line);
  }
}

void fail(std::string_view why) {
  g_failed = true;
  note(std::string("ERROR: ") + std::string(why));
}

bool failed() {
  return g_failed;
}

int count_children() {
  const pid_t self = ::getpid();
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "stat");
    std::string stat;
    if (!std::getline(f, stat)) continue;
    // Fields after the command (which may hold spaces): state, ppid, ...
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == self) ++n;
  }
  return n;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

long raise_nofile_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(lim.rlim_cur);
}

std::vector<std::vector<double>> interleave(int rounds, const std::vector<std::function<double()>>& fns) {
  std::vector<std::vector<double>> out(fns.size());
  std::vector<std::size_t> order(fns.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 shuffle_with(20261208);
  for (int r = 0; r < rounds; ++r) {
    std::shuffle(order.begin(), order.end(), shuffle_with);
    for (const std::size_t k : order) out[k].push_back(fns[k]());
  }
  return out;
}

std::string path_of(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t at = 0; at <= dirs.size();) {
    std::size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = (end == at ? "." : dirs.substr(at, end - at)) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    at = end + 1;
  }
  return name;
}

void set_quick(bool quick) {
  g_quick = quick;
}

int scaled(int n) {
  return g_quick ? std::max(1, n / 4) : n;
}

}  // namespace bsbench
