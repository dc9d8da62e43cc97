// Fork storms (issue: a storm outlived its deadline by two minutes under
// subreaper, and escaped process_group by setsid). Each storm runs through
// bounded-run as nobody under `prlimit --nproc`, inside a PID namespace of
// its own made by `unshare` (as root), so that whatever the library leaves
// ends with that namespace and no storm outlives the test. Inside it, a
// shell runs bounded-run, then counts the namespace's live processes: only
// itself must be left (at once: every other mechanism's run ends once all
// of it is reaped; process_group kills its group and does not wait, so its
// killed members get up to 10 s to be gone).
//
// The bound: the result within the deadline plus kStormBound, generous so
// that the tests pass on a loaded machine (the benchmark `bs_bench storm`
// measures the real figure); before the fix, a subreaper storm under a
// limit of 300 processes had not ended after 11 minutes. A setsid storm
// ends later, as documented (each of its processes is a scheduler
// autogroup of its own, so bounded-run and the init get one CPU share among
// the storm's): kSetsidStormBound only catches a storm that does not end.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bounded_subprocess/run.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "containment_test_util.hpp"

extern char** environ;  // NOLINT: POSIX

namespace {

using namespace bs_containment;
using namespace std::chrono_literals;

constexpr double kDeadline = 1.0;     // the storm's --timeout
constexpr double kStormBound = 10.0;  // the result within kDeadline + this
constexpr double kSetsidStormBound = 60.0;  // the same for a setsid storm
constexpr int kStormSize = 150;       // processes the storm may add to nobody's
constexpr int kEscapeSize = 40;       // the same for the storm that escapes

bool have(const char* tool) {
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"})
    if (::access((std::string(dir) + tool).c_str(), X_OK) == 0) return true;
  return false;
}

std::string skip_reason() {
  if (::geteuid() != 0) return "not root: cannot run a storm as nobody in a PID namespace of its own";
  for (const char* tool : {"unshare", "setpriv", "prlimit"})
    if (!have(tool)) return std::string(tool) + " is not installed";
  return "";
}

// Processes of uid 65534 on the machine now (other suites may run as
// nobody too: the storm's limit leaves room for them).
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

// The cgroup v2 mount point, or "".
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

struct Storm {
  bool ended = false;  ///< the namespace's shell finished in time
  nlohmann::json result;
  int left = -1;  ///< live processes of the namespace once bounded-run returned (the shell: 1)
  std::string text;
};

// bounded-run --containment C --timeout kDeadline -- bs_misbehave fork-bomb
// [setsid], as nobody under prlimit, in a PID namespace of its own; the
// namespace is killed (with everything in it) if it has not ended in 120 s.
Storm run_storm(const std::string& containment, bool leave_session, const std::string& cgroup_dir = "",
                int size = kStormSize) {
  const std::string script =
      "[ -n \"$1\" ] && echo $$ > \"$1/cgroup.procs\"\n"
      "d=$(mktemp -d) && mkfifo \"$d/out\" || exit 1\n"
      "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
      "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- prlimit --nproc=$2 "
      "\"$3\" --json --containment \"$4\" --timeout \"$5\" -- \"$6\" fork-bomb $7 > \"$d/out\" &\n"
      "br=$!\n"
      // Once the result is out, stop whatever is left of the storm at once
      // (kill(-1) from the namespace's init reaches every other process in
      // it, forks in flight included) but bounded-run: an escaped storm
      // spins, one scheduling group per session, and would starve
      // bounded-run's own exit, this count and every test beside it. (Under
      // ASan, bounded-run's leak check is off: as nobody at the storm's
      // process limit it cannot start its thread, and a stopped one would
      // hang bounded-run's exit.)
      "{ IFS= read -r line; kill -s STOP -- -1 2>/dev/null; kill -s CONT $br; printf '%s\\n' \"$line\"; cat; } "
      "< \"$d/out\"\n"
      "wait $br; rm -r \"$d\"\n"
      "count() { n=0; for s in /proc/[0-9]*/stat; do { read -r l < $s; } 2>/dev/null || continue; "
      "case \"$l\" in *\") Z \"*) ;; *) n=$((n+1));; esac; done; }\n"
      "count\n"
      // process_group kills the group without waiting for its members to
      // be gone: give them up to 10 s to die.
      "i=0; while [ \"$8\" = settle ] && [ $n -gt 1 ] && [ $i -lt 100 ]; do sleep 0.1; count; i=$((i+1)); "
      "done\n"
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
                                   std::to_string(nobody_processes() + size),
                                   BOUNDED_RUN_PATH,
                                   containment,
                                   std::to_string(kDeadline),
                                   bs_test::misbehave(),
                                   leave_session ? "setsid" : "",
                                   containment == "process_group" && !leave_session ? "settle" : ""};
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
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
  Storm storm;
  if (spawned != 0) {
    ::close(fds[0]);
    ADD_FAILURE() << "cannot start unshare: " << std::strerror(spawned);
    return storm;
  }
  const auto until = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fds[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) break;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      storm.ended = true;
      break;
    }
    storm.text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  // unshare's child (the namespace's init) dies with it: so does the storm.
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::istringstream lines(storm.text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{", 0) == 0) storm.result = nlohmann::json::parse(line, nullptr, false);
    if (line.rfind("left ", 0) == 0) storm.left = std::stoi(line.substr(5));
  }
  return storm;
}

void expect_ended_in_time(const Storm& s, const std::string& containment, bool setsid_storm) {
  ASSERT_TRUE(s.ended) << "the storm's namespace did not end within 120 s: " << s.text;
  ASSERT_TRUE(s.result.is_object()) << s.text;
  EXPECT_EQ(s.result["containment"], containment) << s.text;
  EXPECT_EQ(s.result["reason"], "timeout") << s.text;
  EXPECT_LE(s.result["elapsed_seconds"].get<double>(),
            kDeadline + (setsid_storm ? kSetsidStormBound : kStormBound))
      << s.text;
}

class Storms : public ::testing::TestWithParam<std::string> {};

TEST_P(Storms, EndInTimeWithNothingLeft) {
  const std::string c = GetParam();
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  if (!bs::containment_available(*bs::containment_from_string(c)))
    GTEST_SKIP() << c << " is not available here";
  for (const bool leave_session : {false, true}) {
    SCOPED_TRACE(leave_session ? "setsid storm" : "storm");
    if (c == "process_group" && leave_session) continue;  // DocumentedEscape
    const Storm s = run_storm(c, leave_session);
    expect_ended_in_time(s, c, leave_session);
    EXPECT_EQ(s.left, 1) << "live processes left in the namespace besides its shell: " << s.text;
  }
}

INSTANTIATE_TEST_SUITE_P(Containment, Storms,
                         ::testing::Values("process_group", "subreaper", "pid_namespace"));

// A storm whose members call setsid leaves a process group: process_group
// cannot contain it (documented); the result still comes on time. The
// namespace around it ends the storm.
TEST(Storm, ProcessGroupDocumentedEscape) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  // Fewer processes than the other storms: escaping needs only a few, and
  // until its result is out the storm spins, starving bounded-run.
  const Storm s = run_storm("process_group", true, "", kEscapeSize);
  expect_ended_in_time(s, "process_group", true);
  EXPECT_GT(s.left, 1) << "the setsid storm did not escape process_group: is the check blind? " << s.text;
}

// The cgroup mechanism as nobody: a cgroup of the host delegated to nobody
// for the test, which the namespace's shell joins before dropping root.
TEST(Storm, CgroupEndsInTimeWithNothingLeft) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  const std::string mount = cgroup2_mount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup v2 here";
  const std::string dir = mount + "/bs_storm_test." + std::to_string(::getpid());
  if (::mkdir(dir.c_str(), 0755) != 0)
    GTEST_SKIP() << "cannot create " << dir << ": " << std::strerror(errno);
  for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"})
    EXPECT_EQ(::chown((dir + f).c_str(), 65534, 65534), 0) << dir << f;
  for (const bool leave_session : {false, true}) {
    SCOPED_TRACE(leave_session ? "setsid storm" : "storm");
    const Storm s = run_storm("cgroup", leave_session, dir);
    expect_ended_in_time(s, "cgroup", leave_session);
    EXPECT_EQ(s.left, 1) << s.text;
  }
  // The runs' cgroups are gone with them; then ours.
  for (const auto& sub : std::filesystem::directory_iterator(dir))
    if (sub.is_directory()) ::rmdir(sub.path().c_str());
  EXPECT_EQ(::rmdir(dir.c_str()), 0) << std::strerror(errno);
}

// bounded-run, whose subreaper init the program kills: every process of
// the run ends, the JSON says containment_broken, and without --json
// bounded-run says so and exits 125 (before: "No child processes", 125,
// and the program and both sleeps alive).
TEST(CliBrokenInit, SubreaperProgramKillsItsInit) {
  if (!bs::containment_available(bs::Containment::subreaper)) GTEST_SKIP() << "no subreaper here";
  const std::vector<std::string> program = {"--", "sh", "-c",
                                            "sleep 331 & sleep 0.5; kill -9 $PPID; sleep 333"};
  std::vector<std::string> args = {BOUNDED_RUN_PATH, "--json",    "--containment",
                                   "subreaper",      "--timeout", "30"};
  args.insert(args.end(), program.begin(), program.end());
  bs::Result r = bs::run(args, {.timeout = 60s, .containment = bs::Containment::process_group});
  EXPECT_EQ(r.exit_code, 0) << r << r.err.data;
  const auto j = nlohmann::json::parse(r.out.data, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out.data << r.err.data;
  EXPECT_EQ(j["reason"], "containment_broken");
  EXPECT_LT(j["elapsed_seconds"].get<double>(), 25.0);
  expect_contained(bs::Containment::subreaper, "--json: the program and its sleeps");

  args = {BOUNDED_RUN_PATH, "--containment", "subreaper", "--timeout", "30"};
  args.insert(args.end(), program.begin(), program.end());
  r = bs::run(args, {.timeout = 60s, .containment = bs::Containment::process_group});
  EXPECT_EQ(r.exit_code, 125) << r << r.err.data;
  EXPECT_NE(r.err.data.find("containment was broken"), std::string::npos) << r.err.data;
  expect_contained(bs::Containment::subreaper, "the program and its sleeps");
}

}  // namespace
