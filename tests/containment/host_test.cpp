// The host misbehaves: it ignores SIGCHLD, or it is killed with SIGKILL
// while a contained run is going on (bs_containment_host does both).
#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bounded_subprocess/run.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "containment_test_util.hpp"
#include "handshake.hpp"

extern char** environ;  // NOLINT: POSIX

namespace {

using namespace bs_containment;
using namespace std::chrono_literals;

// Starts bs_containment_host with stdout on a pipe; returns its pid.
pid_t start_host(const std::vector<std::string>& args, int& out_fd) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<std::string> all = {BS_CONTAINMENT_HOST_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : all) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  out_fd = fds[0];
  return pid;
}

std::string read_to_eof(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Runs bs_containment_host `mode` with MECH `c` and MISBEHAVE to its end
// (exit 0 expected); what it printed.
std::string host_output(const std::string& mode, bs::Containment c) {
  int out = -1;
  const pid_t host = start_host({mode, std::string(bs::to_string(c)), bs_test::misbehave()}, out);
  const std::string text = read_to_eof(out);
  ::close(out);
  int status = 0;
  EXPECT_EQ(::waitpid(host, &status, 0), host);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  return text;
}

TEST(Host, IgnoringSigchldNeverTurnsAStatusIntoZero) {
  for (bs::Containment c : mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    const std::string text = host_output("sigchld-ignored", c);
    if (c == bs::Containment::process_group) {
      // The kernel reaps the program itself: the library refuses up front.
      EXPECT_EQ(text.find("exit_code"), std::string::npos) << text;
      EXPECT_NE(text.find("error: SIGCHLD is ignored"), std::string::npos) << text;
    } else {
      // The init reports the status: the host's SIGCHLD does not matter.
      EXPECT_EQ(text, "exit_code 0\nexit_code 3\nexit_code -9\n");
    }
    expect_contained(bs::Containment::cgroup, "nothing left of the host's runs");
  }
}

// A host whose SIGCHLD handler reaps every child that ends (waitpid(-1))
// never takes a contained run's status: the run's own process (an init, a
// shepherd) never execs, so its exit signal stays 0, which such a handler
// does not wait for; a warm sandbox is entered directly (the program as our
// child, whose exit signal exec makes SIGCHLD) only without a handler.
TEST(Host, AHandlerThatReapsEveryChildNeverTakesAContainedRunsStatus) {
  int checked = 0;
  for (bs::Containment c : mechanisms()) {
    if (c == bs::Containment::process_group) continue;  // its program is such a child
    SCOPED_TRACE(std::string(bs::to_string(c)));
    ++checked;
    EXPECT_EQ(host_output("sigchld-reaper", c), "exit_code 0\nexit_code 3\nexit_code -9\n");
    expect_contained(bs::Containment::cgroup, "nothing left of the host's runs");
  }
  if (checked == 0) GTEST_SKIP() << "no contained mechanism here";
}

// The program starts with every signal at its default disposition and none
// blocked, whatever the host ignores, handles or blocks: with clone3 (the
// kernel clears the handlers, the child resets the ignored ones) and where
// a seccomp filter refuses clone3 (the child resets them all).
TEST(Host, TheProgramStartsWithDefaultSignals) {
  for (const char* clone3 : {"allowed", "refused"}) {
    for (bs::Containment c : mechanisms()) {
      SCOPED_TRACE(std::string(bs::to_string(c)) + ", clone3 " + clone3);
      int out = -1;
      const pid_t host = start_host({"signals", std::string(bs::to_string(c)), clone3}, out);
      const std::string text = read_to_eof(out);
      ::close(out);
      int status = 0;
      ASSERT_EQ(::waitpid(host, &status, 0), host);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ": " << text;
      EXPECT_EQ(text,
                "SigBlk:\t0000000000000000\n"
                "SigIgn:\t0000000000000000\n"
                "SigCgt:\t0000000000000000\n");
    }
  }
}

// The end of a namespace's run kills what its own /proc lists, not
// kill(-1), which walks every process of the machine under the kernel's
// tasklist lock (a cost every contained run would pay, growing with the
// machine's load). A host whose kill(-1) fails shows it: a background
// sleeper must still die at the end of the run, before it touches its
// marker.
TEST(Host, TheEndOfANamespaceNeverKillsAll) {
  const std::filesystem::path marker =
      std::filesystem::temp_directory_path() / ("bs_kill_all_marker." + std::to_string(::getpid()));
  int checked = 0;
  for (bs::Containment c : mechanisms()) {
    if (c != bs::Containment::pid_namespace && c != bs::Containment::cgroup) continue;
    SCOPED_TRACE(std::string(bs::to_string(c)));
    int out = -1;
    const pid_t host = start_host({"kill-all-refused", std::string(bs::to_string(c)), marker.string()}, out);
    const std::string text = read_to_eof(out);
    ::close(out);
    int status = 0;
    ASSERT_EQ(::waitpid(host, &status, 0), host);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ": " << text;
    if (text == "not a fresh /proc\n") continue;  // its init has no listing: kill(-1) it is
    ++checked;
    EXPECT_EQ(text, "exit_code 0\n");
    EXPECT_FALSE(std::filesystem::exists(marker)) << "the sleeper outlived its run";
    std::filesystem::remove(marker);
    expect_contained(c, "nothing left of the host's run");
  }
  if (checked == 0) GTEST_SKIP() << "no run here has a PID namespace with a fresh /proc";
}

// Starts bs_containment_host `hold` under `c` and waits for its "ready"
// (its run's escapee is out); -1 after a test failure.
pid_t start_holding_host(bs::Containment c) {
  int out = -1;
  const pid_t host = start_host({"hold", std::string(bs::to_string(c)), bs_test::misbehave()}, out);
  char buf[16] = {};
  ssize_t n;
  do {
    n = ::read(out, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  ::close(out);
  if (n > 0 && std::string(buf) == "ready\n") return host;
  ADD_FAILURE() << "the host did not start its run: " << buf;
  ::kill(host, SIGKILL);
  ::waitpid(host, nullptr, 0);
  return -1;
}

TEST(Host, KilledHostLeavesNothing) {
  for (bs::Containment c : mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    const pid_t host = start_holding_host(c);
    ASSERT_GT(host, 0);
    ASSERT_EQ(::kill(host, SIGKILL), 0);
    ASSERT_EQ(::waitpid(host, nullptr, 0), host);
    if (c == bs::Containment::process_group) {
      // Nothing watches the host: its child and the escapee live on.
      expect_contained(c, "after kill -9 of the host");
    } else {
      // The init sees its socket to the host close, kills everything and
      // exits (it is ours to reap now: we are the subreaper it was orphaned to).
      EXPECT_FALSE(bs_test::still_true_after([] { return !live_descendants().empty(); }, 10s))
          << "left: " << live_descendants().size();
      kill_descendants();
    }
  }
}

// Whether this user's runs can be contained by a cgroup here.
bool cgroup_offered() {
  const auto offered = mechanisms();
  return std::find(offered.begin(), offered.end(), bs::Containment::cgroup) != offered.end();
}

// An init killed from outside together with its host (the OOM killer, a
// Python interpreter's at-exit kill, `kill -9` of everything) cannot remove
// its run's cgroup; the next process of the library removes it (empty) at
// its first run. A cgroup whose creator is alive is never touched.
TEST(Host, CgroupOfAKilledInitIsRemovedByTheNextProcess) {
  if (!cgroup_offered()) GTEST_SKIP() << "no cgroup containment for this user";
  const std::string parent = own_cgroup_dir();
  ASSERT_FALSE(parent.empty());
  // A folder of a live creator (us: it holds the creator's shared lock),
  // which must stay.
  const std::string ours = parent + "/bounded_subprocess." + std::to_string(::getpid()) + ".999999";
  ASSERT_EQ(::mkdir(ours.c_str(), 0755), 0) << std::strerror(errno);
  const int lock = ::open(ours.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_SH), 0);

  // Any process of the library that starts meanwhile (other tests run in
  // parallel) removes the stale folder as soon as it is empty: then there
  // is nothing left to show, and the scenario runs again.
  std::string stale;
  for (int attempt = 0; attempt < 5 && stale.empty(); ++attempt) {
    const pid_t host = start_holding_host(bs::Containment::cgroup);
    ASSERT_GT(host, 0);
    // The host's one child is the init of its run: both die at once.
    std::ifstream children("/proc/" + std::to_string(host) + "/task/" + std::to_string(host) + "/children");
    pid_t init = 0;
    children >> init;
    ASSERT_GT(init, 0);
    ASSERT_EQ(::kill(init, SIGKILL), 0);
    ASSERT_EQ(::kill(host, SIGKILL), 0);
    ASSERT_EQ(::waitpid(host, nullptr, 0), host);
    kill_descendants();  // the init's zombie, orphaned to us
    // The run's folder: bounded_subprocess.HOST.N (N counts the host's
    // cgroups, its probe's among them).
    const std::string prefix = "bounded_subprocess." + std::to_string(host) + ".";
    for (const auto& entry : std::filesystem::directory_iterator(parent)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0) stale = entry.path().string();
    }
  }
  if (stale.empty()) {
    ::rmdir(ours.c_str());
    GTEST_SKIP() << "five times, another process removed the killed init's cgroup first: nothing to show";
  }
  // The kernel kills the rest of the run's PID namespace: wait until the
  // cgroup is empty (a cgroup that holds a process is never removed).
  EXPECT_FALSE(bs_test::still_true_after([&] {
    std::ifstream procs(stale + "/cgroup.procs");
    std::string pid;
    return static_cast<bool>(procs >> pid);
  })) << "the run's processes outlived their init";

  // The next process: one run, whose first spawn removes the stale folder.
  int out = -1;
  const pid_t next = start_host({"sigchld-ignored", "cgroup", bs_test::misbehave()}, out);
  const std::string text = read_to_eof(out);
  ::close(out);
  ASSERT_EQ(::waitpid(next, nullptr, 0), next);
  EXPECT_NE(text.find("exit_code 0"), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(stale)) << stale << " is still there";
  EXPECT_TRUE(std::filesystem::exists(ours)) << "the folder of a live creator was removed";
  ::close(lock);
  ::rmdir(ours.c_str());
}

// The sweep of stale cgroups tells a live creator by the lock it holds, not
// by its pid: from inside another PID namespace (`unshare --pid`), no pid
// of the host names a process, and a sweep that asked kill(pid, 0) removed
// the folders of live runs (their runs then failed: "cannot open the run's
// cgroup"). A library process started there must leave a live creator's
// folder alone, and still run.
TEST(Host, ASweepFromAnotherPidNamespaceLeavesLiveCgroupsAlone) {
  if (!cgroup_offered()) GTEST_SKIP() << "no cgroup containment for this user";
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/unshare";
  const std::string parent = own_cgroup_dir();
  ASSERT_FALSE(parent.empty());
  const std::string ours = parent + "/bounded_subprocess." + std::to_string(::getpid()) + ".999998";
  ASSERT_EQ(::mkdir(ours.c_str(), 0755), 0) << std::strerror(errno);
  const int lock = ::open(ours.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_SH), 0);  // what every creator holds for its run's life

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<std::string> all = {
      "/usr/bin/unshare",       "--pid",           "--fork", "--mount-proc",
      BS_CONTAINMENT_HOST_PATH, "sigchld-ignored", "cgroup", bs_test::misbehave()};
  std::vector<char*> cargv;
  for (auto& a : all) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  const std::string text = read_to_eof(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << ": " << text;
  EXPECT_EQ(text, "exit_code 0\nexit_code 3\nexit_code -9\n");
  EXPECT_TRUE(std::filesystem::exists(ours)) << "a sweep from another PID namespace removed a live folder";
  ::close(lock);
  ::rmdir(ours.c_str());
}

// A process that someone outside the run put into the run's cgroup (root
// can) is the run's: it dies with it, and the cgroup is still removed. The
// end of a run whose namespace is already empty kills nothing: the cgroup
// then refuses to go, and that is when its processes are killed.
TEST(Host, AProcessPutIntoARunsCgroupDiesWithTheRun) {
  if (!cgroup_offered()) GTEST_SKIP() << "no cgroup containment for this user";
  const std::string parent = own_cgroup_dir();
  ASSERT_FALSE(parent.empty());
  bs_test::TempDir tmp;
  const std::string fifo = tmp / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);

  // The outsider: a child of ours, in our cgroup for now.
  pid_t outsider = -1;
  {
    std::string sleep = "sleep", seconds = "600";
    char* args[] = {sleep.data(), seconds.data(), nullptr};
    ASSERT_EQ(::posix_spawnp(&outsider, "sleep", nullptr, nullptr, args, environ), 0);
  }
  // The run: `cat FIFO` waits until we open the fifo, then ends at its EOF.
  bs::Result result;
  std::thread running([&] {
    result = bs::run({"cat", fifo}, {.timeout = 60s, .containment = bs::Containment::cgroup});
  });

  // Its cgroup, once the program is in it.
  const std::string prefix = "bounded_subprocess." + std::to_string(::getpid()) + ".";
  std::string folder;
  const bool not_yet = bs_test::still_true_after([&] {
    for (const auto& entry : std::filesystem::directory_iterator(parent)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      std::ifstream procs(entry.path() / "cgroup.procs");
      std::string pid;
      if (procs >> pid) {
        folder = entry.path().string();
        return false;
      }
    }
    return true;
  });
  EXPECT_FALSE(not_yet) << "the run's cgroup never held its program";
  if (!not_yet) {
    std::ofstream procs(folder + "/cgroup.procs");
    procs << outsider << std::flush;
    EXPECT_TRUE(procs.good()) << "cannot move pid " << outsider << " into " << folder;
  }
  // Once `cat` has opened the fifo (a writer cannot open it before), it
  // sees its end. Should it never come, the run's timeout ends the test.
  int w = -1;
  EXPECT_FALSE(bs_test::still_true_after([&] {
    w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    return w < 0;
  })) << "cat never opened the fifo";
  if (w >= 0) ::close(w);
  running.join();
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_FALSE(result.timeout) << result;

  int status = 0;
  const bool alive = bs_test::still_true_after([&] { return ::waitpid(outsider, &status, WNOHANG) == 0; });
  EXPECT_FALSE(alive) << "the process put into the run's cgroup outlived the run";
  if (alive) {
    ::kill(outsider, SIGKILL);
    ::waitpid(outsider, &status, 0);
  } else {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  }
  if (!folder.empty()) {
    EXPECT_FALSE(std::filesystem::exists(folder)) << folder << " is still there";
  }
}

}  // namespace

namespace {

// What this machine offers, printed for the logs (the suite runs as root
// and again as nobody), and the default is the strongest of it.
TEST(Machine, TheDefaultIsTheStrongestAvailable) {
  std::string offered;
  for (bs::Containment c : mechanisms())
    offered += std::string(offered.empty() ? "" : ", ") + std::string(bs::to_string(c));
  std::printf("uid %d: containments available here: %s\n", static_cast<int>(::geteuid()), offered.c_str());
  ASSERT_FALSE(mechanisms().empty());
  EXPECT_EQ(mechanisms().front(), bs::Containment::process_group);
  EXPECT_EQ(bs::strongest_containment(), mechanisms().back());
  bs_test::NoLeaks leaks;
  const bs::Result r = bs::run({bs_test::misbehave(), "exit", "0"});
  EXPECT_EQ(r.containment, mechanisms().back()) << r;
  leaks.expect_clean();
}

// Runs bs_containment_host with `args` and returns what it printed; the host
// must exit 0 (a seccomp kill, SIGSYS, is a probe it was not to make).
std::string host_output(const std::vector<std::string>& args) {
  int out = -1;
  const pid_t host = start_host(args, out);
  const std::string text = read_to_eof(out);
  ::close(out);
  int status = 0;
  EXPECT_EQ(::waitpid(host, &status, 0), host);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "host status " << status << (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? " (SIGSYS)" : "")
      << ": " << text;
  return text;
}

// Each mechanism is probed only when a run may use it: a process_group run
// clones no probe's init at all, an exact mechanism probes only itself (and
// cgroup only what it builds on), and the default stops at the strongest
// that works. A seccomp filter in the host kills it at a forbidden clone.
TEST(Machine, ARunProbesOnlyWhatItMayUse) {
  const std::string exit_0 = "exit_code 0 containment ";
  EXPECT_EQ(host_output({"probes-forbidden", "process_group", "any", bs_test::misbehave()}),
            exit_0 + "process_group\n");
  const auto offered = mechanisms();
  auto has = [&](bs::Containment c) { return std::find(offered.begin(), offered.end(), c) != offered.end(); };
  if (has(bs::Containment::subreaper)) {
    EXPECT_EQ(host_output({"probes-forbidden", "subreaper", "pid", bs_test::misbehave()}),
              exit_0 + "subreaper\n");
  }
  for (bs::Containment c : {bs::Containment::pid_namespace, bs::Containment::cgroup}) {
    if (!has(c)) continue;
    const std::string name(bs::to_string(c));
    EXPECT_EQ(host_output({"probes-forbidden", name, "subreaper", bs_test::misbehave()}),
              exit_0 + name + "\n");
  }
  if (offered.back() >= bs::Containment::pid_namespace) {
    EXPECT_EQ(host_output({"probes-forbidden", "auto", "subreaper", bs_test::misbehave()}),
              exit_0 + std::string(bs::to_string(offered.back())) + "\n");
    // The first run with the default containment is its own probe: no
    // throw-away init with a PID namespace is cloned before it.
    EXPECT_EQ(host_output({"probes-forbidden", "auto", "pid", bs_test::misbehave()}),
              exit_0 + std::string(bs::to_string(offered.back())) + "\n");
  }
}

// A first run that is its own probe and cannot set up the mechanism it
// tried (here: no cgroup namespace for a cgroup run's program, as under a
// runtime's seccomp filter) is made again, after the probes, with what
// works; the caller never sees the failed try.
TEST(Machine, AFirstRunThatCannotSetUpItsContainmentIsMadeAgainWithWhatWorks) {
  if (mechanisms().back() < bs::Containment::pid_namespace) GTEST_SKIP() << "no PID namespaces here";
  EXPECT_EQ(host_output({"probes-forbidden", "auto", "cgroupns", bs_test::misbehave()}),
            "exit_code 0 containment pid_namespace\n");
}

// The answers do not depend on the order in which the mechanisms are asked
// about (cgroup first probes pid_namespace with it; pid_namespace first
// leaves the cgroup namespace to a probe of its own), nor on threads asking
// at once, and they are this process's answers.
TEST(Machine, TheAnswersDoNotDependOnTheOrderOfTheQuestions) {
  const std::string strongest_first = host_output({"answers", "strongest-first"});
  const std::string weakest_first = host_output({"answers", "weakest-first"});
  EXPECT_EQ(strongest_first, weakest_first);
  EXPECT_EQ(host_output({"answers", "concurrent"}), weakest_first);
  for (bs::Containment c : {bs::Containment::process_group, bs::Containment::subreaper,
                            bs::Containment::pid_namespace, bs::Containment::cgroup}) {
    const auto offered = mechanisms();
    const bool yes = std::find(offered.begin(), offered.end(), c) != offered.end();
    const std::string name(bs::to_string(c));
    const auto at = strongest_first.find(name + (yes ? " yes\n" : " no: "));
    EXPECT_NE(at, std::string::npos) << name << (yes ? " is available here" : " is not available here")
                                     << ":\n"
                                     << strongest_first;
  }
}

}  // namespace
