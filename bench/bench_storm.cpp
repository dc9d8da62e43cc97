// section_storm: how long a fork storm's run takes to end, per containment.
//
// The storm (bs_misbehave fork-bomb: every process forks in a loop, SIGCHLD
// ignored; `setsid` also leaves its session before each fork) runs through
// bounded-run --timeout 2 as nobody under `prlimit --nproc` (2,000 more
// processes than nobody has now), inside a PID namespace of its own made by
// `unshare`, so that nothing of it outlives a round whatever the library
// does. The figure is the run's elapsed_seconds (spawn to the end of the
// run: every process of it reaped), worst and median of 10 rounds, against
// the bound 2 x deadline + 1 s. After each round the namespace must hold
// nothing but its shell.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bounded_subprocess/containment.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "sections.hpp"

extern char** environ;  // NOLINT: POSIX

namespace bsbench {

namespace {

constexpr double kDeadline = 2.0;
constexpr int kStormSize = 2000;
constexpr int kRoundLimitSeconds = 300;  // a round still going then is killed (and failed)

int nobody_processes() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    struct stat st {};
    const std::string name = entry.path().filename();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    if (::stat(entry.path().c_str(), &st) == 0 && st.st_uid == 65534) ++n;
  }
  return n;
}

std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream f(line);
    std::string dev, dir, type;
    f >> dev >> dir >> type;
    if (type == "cgroup2") return dir;
  }
  return "";
}

struct Round {
  bool ended = false;
  double elapsed = -1;  ///< the JSON's elapsed_seconds
  int left = -1;        ///< live processes of the namespace after the run (its shell: 1)
  std::string text;
};

// Pulls `"name":NUMBER` out of bounded-run's JSON line.
double json_number(const std::string& text, const std::string& name) {
  const auto at = text.find("\"" + name + "\":");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + name.size() + 3, nullptr);
}

Round storm_round(const std::string& containment, bool leave_session, const std::string& cgroup_dir) {
  const std::string script =
      "[ -n \"$1\" ] && echo $$ > \"$1/cgroup.procs\"\n"
      "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- prlimit --nproc=$2 "
      "\"$3\" --json --containment \"$4\" --timeout \"$5\" -- \"$6\" fork-bomb $7\n"
      "n=0; for s in /proc/[0-9]*/stat; do { read -r l < $s; } 2>/dev/null || continue; "
      "case \"$l\" in *\") Z \"*) ;; *) n=$((n+1));; esac; done\n"
      "echo \"left $n\"\n";
  std::vector<std::string> args = {"unshare",
                                   "--pid",
                                   "--fork",
                                   "--kill-child",
                                   "--mount-proc",
                                   "--",
                                   "sh",
                                   "-c",
                                   script,
                                   "sh",
                                   cgroup_dir,
                                   std::to_string(nobody_processes() + kStormSize),
                                   BS_BENCH_BOUNDED_RUN,
                                   containment,
                                   std::to_string(kDeadline),
                                   BS_BENCH_MISBEHAVE,
                                   leave_session ? "setsid" : ""};
  Round round;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return round;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, "unshare", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return round;
  }
  const auto until = Clock::now() + std::chrono::seconds(kRoundLimitSeconds);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    pollfd p{fds[0], POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) break;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      round.ended = true;
      break;
    }
    round.text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  ::kill(pid, SIGKILL);  // the namespace, and whatever is left in it, goes with unshare
  int status = 0;
  ::waitpid(pid, &status, 0);
  round.elapsed = json_number(round.text, "elapsed_seconds");
  if (const auto at = round.text.find("left "); at != std::string::npos)
    round.left = std::atoi(round.text.c_str() + at + 5);
  return round;
}

bool have(const char* tool) {
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"})
    if (::access((std::string(dir) + tool).c_str(), X_OK) == 0) return true;
  return false;
}

}  // namespace

void section_storm() {
  if (::geteuid() != 0) {
    note("storm: skipped: needs root (the storm runs as nobody in a PID namespace of its own)");
    return;
  }
  for (const char* tool : {"unshare", "setpriv", "prlimit"}) {
    if (!have(tool)) {
      note(std::string("storm: skipped: ") + tool + " is not installed");
      return;
    }
  }
  note(
      "storm: fork storms as nobody under prlimit --nproc (2,000 more than nobody has), --timeout 2; "
      "elapsed_seconds of the run, worst and median of the rounds, against 2 x deadline + 1 s");
  // cgroup as nobody: a cgroup delegated to nobody for the section.
  std::string cgroup_dir;
  if (const std::string mount = cgroup2_mount(); !mount.empty()) {
    cgroup_dir = mount + "/bs_bench_storm." + std::to_string(::getpid());
    if (::mkdir(cgroup_dir.c_str(), 0755) != 0) {
      cgroup_dir.clear();
    } else {
      for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"})
        if (::chown((cgroup_dir + f).c_str(), 65534, 65534) != 0)
          fail("storm: cannot delegate " + cgroup_dir);
    }
  }
  const int rounds = scaled(10);
  for (const bool leave_session : {false, true}) {
    for (const std::string c : {"subreaper", "pid_namespace", "cgroup"}) {
      const std::string name = "storm_" + c + (leave_session ? "_setsid" : "");
      if (!bounded_subprocess::containment_available(*bounded_subprocess::containment_from_string(c)) &&
          c != "cgroup") {
        note(name + ": skipped: not available here");
        continue;
      }
      if (c == "cgroup" && cgroup_dir.empty()) {
        note(name + ": skipped: no cgroup v2 to delegate to nobody");
        continue;
      }
      std::vector<double> elapsed;
      for (int i = 0; i < rounds; ++i) {
        const Round r = storm_round(c, leave_session, c == "cgroup" ? cgroup_dir : "");
        if (!r.ended || r.elapsed < 0) {
          fail(name + ": a round did not end within " + std::to_string(kRoundLimitSeconds) + " s: " + r.text);
          continue;
        }
        if (r.text.find("\"containment\":\"" + c + "\"") == std::string::npos)
          fail(name + ": the run did not use " + c + ": " + r.text);
        if (r.left != 1) fail(name + ": processes left after the run: " + std::to_string(r.left - 1));
        elapsed.push_back(r.elapsed);
      }
      figure(name + "_worst_s", worst(elapsed), 2);
      figure(name + "_median_s", median(elapsed), 2);
      goal(name + "_worst_s", worst(elapsed), 2 * kDeadline + 1);
    }
  }
  if (!cgroup_dir.empty()) {
    for (const auto& sub : std::filesystem::directory_iterator(cgroup_dir))
      if (sub.is_directory()) ::rmdir(sub.path().c_str());
    ::rmdir(cgroup_dir.c_str());
  }
}

}  // namespace bsbench
