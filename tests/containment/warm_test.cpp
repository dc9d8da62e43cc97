// Warm sandboxes: pid_namespace and cgroup runs enter namespaces made once
// and reused. Nothing of one run may reach the next, and the program must
// get the caller's state at the time of the call, not the state of when the
// sandbox was made. Each test shows the sandbox was reused (the same PID
// namespace), so that it checks reuse, not a fresh namespace.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bounded_subprocess/run.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "containment_test_util.hpp"
#include "forked.hpp"

extern char** environ;  // NOLINT: POSIX

namespace {

using namespace bs_containment;
using namespace std::chrono_literals;

// The mechanisms that use warm sandboxes here.
std::vector<bs::Containment> warm_mechanisms() {
  std::vector<bs::Containment> out;
  const char* off = std::getenv("BOUNDED_SUBPROCESS_WARM");
  if (off != nullptr && std::string(off) == "0") return out;
  for (bs::Containment c : mechanisms())
    if (c == bs::Containment::pid_namespace || c == bs::Containment::cgroup) out.push_back(c);
  return out;
}

// `script` run by /bin/sh under `c`; its stdout (exit 0 expected).
std::string sh(bs::Containment c, const std::string& script, const bs::Options& extra = {}) {
  bs::Options o = extra;
  o.containment = c;
  o.timeout = 30s;
  o.max_output_size = 64 * 1024;
  const bs::Result r = bs::run({"/bin/sh", "-c", script}, o);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.containment, c);
  return r.out.data;
}

// The PID namespace a run's program is in.
std::string pid_namespace_of_a_run(bs::Containment c) {
  return sh(c, "readlink /proc/self/ns/pid");
}

// A script's first line (the namespace it ran in, with its '\n').
std::string first_line(const std::string& out) {
  return out.substr(0, out.find('\n') + 1);
}

// A script's output without its first line (the namespace it ran in: a run
// gets whichever sandbox is idle, so the state checks do not depend on it).
std::string without_first_line(const std::string& out) {
  const auto eol = out.find('\n');
  return eol == std::string::npos ? std::string() : out.substr(eol + 1);
}

// The first run of a process goes cold (it makes no sandbox): one run of
// the process, so that the tests' runs are warm.
void past_the_first_run() {
  static const bool done = [] {
    (void)bs::run({"true"});
    return true;
  }();
  (void)done;
}

#define SKIP_WITHOUT_WARM()                                                \
  if (warm_mechanisms().empty()) GTEST_SKIP() << "no warm sandboxes here"; \
  past_the_first_run()

TEST(Warm, ASandboxIsReusedAndHoldsNothingOfTheRunBefore) {
  SKIP_WITHOUT_WARM();
  const std::string listing_script =
      "readlink /proc/self/ns/pid; for p in /proc/[0-9]*; do "
      "[ \"${p#/proc/}\" = 1 ] || [ \"${p#/proc/}\" = $$ ] || cat $p/comm; done";
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    bs_test::NoLeaks leaks;
    // A sandbox is also retired when a mount reaches it from the host (a
    // container started by a test running beside this one), so the whole
    // scenario is tried until one sandbox is used again after such a run.
    bool reused = false;
    for (int attempt = 0; attempt < 20 && !reused && !HasFailure(); ++attempt) {
      // A run that leaves processes behind: in the background, in a new
      // session, and stopped.
      const bs::Result left = bs::run(
          {"/bin/sh", "-c",
           "readlink /proc/self/ns/pid; sleep 301 & setsid sleep 302 & sh -c 'kill -STOP $$; sleep 304' & "
           "sleep 0.2"},
          {.timeout = 30s, .containment = c});
      EXPECT_EQ(left.exit_code, 0) << left;
      // The next run sees no process but its sandbox's init (process 1) and
      // its own; the pool hands out the sandbox given back last.
      const std::string listing = sh(c, listing_script);
      const std::string listed_ns = first_line(listing);
      EXPECT_EQ(listing, listed_ns) << "a sandbox holds something of a run before";
      reused = listed_ns == left.out.data;
    }
    EXPECT_TRUE(reused) << "the sandbox of the run that left processes was never used again";
    leaks.expect_clean();
  }
}

TEST(Warm, AMountOfARunNeverReachesTheNext) {
  SKIP_WITHOUT_WARM();
  if (::geteuid() != 0) GTEST_SKIP() << "only a root program can mount in its sandbox";
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    const std::string mounted = sh(c,
                                   "mount -t tmpfs bs-warm-test /mnt && readlink /proc/self/ns/pid && "
                                   "grep -c bs-warm-test /proc/self/mountinfo");
    EXPECT_EQ(without_first_line(mounted), "1\n");
    const std::string ns = first_line(mounted);
    // The sandbox whose mounts changed is retired: no later run is in it
    // (the pool hands out the one given back last), and none sees the mount.
    for (int i = 0; i < 10; ++i) {
      const std::string later =
          sh(c, "readlink /proc/self/ns/pid; grep -c bs-warm-test /proc/self/mountinfo || true");
      EXPECT_EQ(without_first_line(later), "0\n");
      EXPECT_NE(first_line(later), ns) << "a run in the sandbox whose mounts changed";
    }
    std::ifstream host_mounts("/proc/self/mountinfo");
    const std::string text((std::istreambuf_iterator<char>(host_mounts)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find("bs-warm-test"), std::string::npos) << "the run's mount reached the host";
  }
}

// A cgroup run uses its sandbox's cgroup again (a folder per run cost as
// much as the rest of the containment), but a run that changed a setting of
// that cgroup or made a folder in it (root can) retires it: the next run
// sees the defaults, and nothing of the change is left once the sandboxes
// are dropped.
TEST(Warm, ACgroupSettingOfARunNeverReachesTheNext) {
  SKIP_WITHOUT_WARM();
  const auto warm = warm_mechanisms();
  if (std::find(warm.begin(), warm.end(), bs::Containment::cgroup) == warm.end())
    GTEST_SKIP() << "no warm cgroup runs here";
  if (::geteuid() != 0) GTEST_SKIP() << "only root can change a cgroup's settings";
  const std::string parent = own_cgroup_dir();
  ASSERT_FALSE(parent.empty());
  // Each script finds its own cgroup (the one of this process's runs that
  // holds a process: runs of one test are one at a time) and prints it.
  const std::string each_own_cgroup = "for d in " + parent + "/bounded_subprocess." +
                                      std::to_string(::getpid()) +
                                      ".*; do grep -q . $d/cgroup.procs 2>/dev/null || continue; echo $d; ";
  const std::string show = each_own_cgroup +
                           "cat $d/cgroup.max.descendants; "
                           "ls -d $d/made-by-a-run 2>/dev/null || echo no-folder; done";
  // The control: a run that changes nothing leaves its cgroup to the next
  // (tried again while a mount propagated from the host retires sandboxes).
  bool reused = false;
  for (int attempt = 0; attempt < 20 && !reused && !HasFailure(); ++attempt) {
    const std::string a = sh(bs::Containment::cgroup, show);
    const std::string b = sh(bs::Containment::cgroup, show);
    EXPECT_EQ(without_first_line(a), "max\nno-folder\n");
    reused = !a.empty() && first_line(a) == first_line(b);
  }
  EXPECT_TRUE(reused) << "a cgroup run never used its sandbox's cgroup again";

  const std::string changed =
      sh(bs::Containment::cgroup,
         each_own_cgroup + "echo 7 > $d/cgroup.max.descendants && mkdir $d/made-by-a-run; done");
  const std::string folder = first_line(changed);
  ASSERT_FALSE(folder.empty()) << "the run found no cgroup of its own";
  for (int i = 0; i < 10; ++i) {
    const std::string later = sh(bs::Containment::cgroup, show);
    EXPECT_EQ(without_first_line(later), "max\nno-folder\n") << "a setting of a run reached the next";
    EXPECT_NE(first_line(later), folder) << "a run in the cgroup a run changed";
  }
  bs::drop_warm_sandboxes();
  EXPECT_FALSE(std::filesystem::exists(folder.substr(0, folder.size() - 1)))
      << folder << " (and the folder a run made in it) outlived its sandbox";
}

// An isolated run (as root) enters a warm sandbox too, and sets up its
// isolation in the program's own process: a mount namespace of its own
// inside the sandbox's (read-only view, scratch), the pooled empty network
// namespace. None of it stays in the sandbox: the plain run after it, in
// the same sandbox, sees the host's network and files, writable, and no
// scratch; the isolated run after that gets an empty scratch again.
TEST(Warm, AnIsolatedRunLeavesItsSandboxAsItFoundIt) {
  SKIP_WITHOUT_WARM();
  if (::geteuid() != 0) GTEST_SKIP() << "isolated runs enter sandboxes only as root (no shepherd)";
  const std::string host_net = std::filesystem::read_symlink("/proc/self/ns/net").string() + "\n";
  // Outside /tmp, which an isolated run's scratch covers.
  const std::string marker = "bs-warm-isolated-" + std::to_string(::getpid());
  const std::string dir = (std::filesystem::current_path() / marker).string();
  std::filesystem::create_directory(dir);
  bs::Options isolated;
  isolated.isolation = bs::Isolation{.network = bs::Network::none, .read_only = true, .scratch_mb = 16};
  const std::string isolated_script =
      "readlink /proc/self/ns/pid; readlink /proc/self/ns/net; ls -A /tmp; echo x > /tmp/" + marker +
      " && echo wrote; touch " + dir + "/f 2>/dev/null || echo read-only";
  const std::string plain_script = "readlink /proc/self/ns/pid; readlink /proc/self/ns/net; ls /tmp/" +
                                   marker + " 2>/dev/null; touch " + dir + "/f && echo writable";
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    // Tried again while a mount propagated from the host (a test beside
    // this one) retires sandboxes: the three runs must share one.
    bool shared = false;
    for (int attempt = 0; attempt < 20 && !shared && !HasFailure(); ++attempt) {
      const std::string before = sh(c, plain_script);
      const std::string ns = first_line(before);
      const std::string iso = sh(c, isolated_script, isolated);
      EXPECT_EQ(without_first_line(iso).substr(without_first_line(iso).find('\n') + 1), "wrote\nread-only\n")
          << "not isolated: " << iso;
      EXPECT_NE(without_first_line(iso).substr(0, host_net.size()), host_net) << "the host's network";
      const std::string after = sh(c, plain_script);
      EXPECT_EQ(without_first_line(after), host_net + "writable\n") << "the isolated run reached the next";
      const std::string again = sh(c, isolated_script, isolated);
      EXPECT_EQ(without_first_line(again).substr(without_first_line(again).find('\n') + 1),
                "wrote\nread-only\n")
          << "the scratch of a run reached the next: " << again;
      shared = first_line(iso) == ns && first_line(after) == ns && first_line(again) == ns;
    }
    EXPECT_TRUE(shared) << "isolated and plain runs never shared a sandbox";
  }
  std::filesystem::remove_all(dir);
}

// An isolated run in a sandbox gets the verdicts of its limits as a run
// with its own init does: its scratch full, a fork refused at its pids
// limit (counted where the limit is a cgroup's: root), with processes left
// behind that the sandbox's init ends.
TEST(Warm, AnIsolatedRunInASandboxReportsTheLimitsItHit) {
  SKIP_WITHOUT_WARM();
  if (::geteuid() != 0) GTEST_SKIP() << "isolated runs enter sandboxes only as root (no shepherd)";
  bs::Options isolated;
  isolated.isolation = bs::Isolation{.scratch_mb = 4, .pids_limit = 8};
  // Python, not a shell: a shell whose fork is refused exits.
  const std::string script =
      "import os, time\n"
      "print(os.readlink('/proc/self/ns/pid'))\n"
      "try:\n"
      "    open('/tmp/fill', 'wb').write(bytes(8 << 20))\n"
      "except OSError as e:\n"
      "    print('fill', e.errno == 28)\n"
      "refused = False\n"
      "for i in range(12):\n"
      "    try:\n"
      "        if os.fork() == 0:\n"
      "            time.sleep(30)\n"
      "            os._exit(0)\n"
      "    except OSError:\n"
      "        refused = True\n"
      "print('refused', refused)\n";
  const std::string alone =
      "for p in /proc/[0-9]*; do [ \"${p#/proc/}\" = 1 ] || [ \"${p#/proc/}\" = $$ ] || cat $p/comm; done";
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    bool in_sandbox = false;
    for (int attempt = 0; attempt < 20 && !in_sandbox && !HasFailure(); ++attempt) {
      const std::string ns = pid_namespace_of_a_run(c);
      isolated.containment = c;
      isolated.timeout = 30s;
      const bs::Result r = bs::run({"python3", "-c", script}, isolated);
      EXPECT_EQ(r.exit_code, 0) << r << r.err.data;
      EXPECT_EQ(without_first_line(r.out.data), "fill True\nrefused True\n") << r.out.data;
      EXPECT_TRUE(r.limits_hit.scratch) << r;
      EXPECT_TRUE(r.limits_hit.pids) << r;
      EXPECT_FALSE(r.limits_hit.memory || r.limits_hit.cpu || r.limits_hit.file_size) << r;
      in_sandbox = first_line(r.out.data) == ns;
    }
    EXPECT_TRUE(in_sandbox) << "the isolated run never used a warm sandbox";
    // What it left behind was ended: the next run in the sandbox is alone.
    EXPECT_EQ(sh(c, alone), "");
  }
}

// A run killed at its timeout (and one that left a process behind) gives
// its sandbox back to the next run, which runs: a cgroup emptied with
// cgroup.kill would kill what is later cloned into it (a kernel's kill
// count compared with the parent's), so a sandbox's cgroup is emptied by
// ending its namespace instead.
TEST(Warm, TheRunAfterAKilledRunInTheSameSandboxRuns) {
  SKIP_WITHOUT_WARM();
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    for (int i = 0; i < 5; ++i) {
      const bs::Result killed =
          bs::run({"/bin/sh", "-c", "sleep 300 & sleep 300"}, {.timeout = 200ms, .containment = c});
      EXPECT_TRUE(killed.timeout) << killed;
      for (int j = 0; j < 3; ++j) EXPECT_EQ(sh(c, "echo ran"), "ran\n");
    }
  }
}

// A run that entered its sandbox directly set the calling thread's PID
// namespace for children to the sandbox's for its clone only: what the
// thread starts afterwards is born in the host's own namespace.
TEST(Warm, TheCallingThreadsChildrenAfterARunAreBornInItsOwnNamespace) {
  SKIP_WITHOUT_WARM();
  const auto own = std::filesystem::read_symlink("/proc/self/ns/pid");
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    for (int i = 0; i < 3; ++i) {
      EXPECT_NE(first_line(pid_namespace_of_a_run(c)), own.string() + "\n");
      EXPECT_EQ(std::filesystem::read_symlink("/proc/thread-self/ns/pid_for_children"), own);
      pid_t pid = -1;
      std::string sleep = "sleep", seconds = "30";
      char* args[] = {sleep.data(), seconds.data(), nullptr};
      ASSERT_EQ(::posix_spawnp(&pid, "sleep", nullptr, nullptr, args, environ), 0);
      std::error_code ec;
      const auto child = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", ec);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      EXPECT_EQ(child, own) << "a child of the thread after a run was born in another PID namespace";
    }
  }
}

// The caller's state at the time of each call: changed between two runs
// that share a sandbox, the second run sees the change.
TEST(Warm, TheProgramGetsTheCallersCwdUmaskAndRlimitsOfTheCall) {
  SKIP_WITHOUT_WARM();
  const std::filesystem::path old_cwd = std::filesystem::current_path();
  const std::filesystem::path a =
      std::filesystem::temp_directory_path() / ("bs_warm_a." + std::to_string(::getpid()));
  const std::filesystem::path b =
      std::filesystem::temp_directory_path() / ("bs_warm_b." + std::to_string(::getpid()));
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  rlimit old_nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old_nofile), 0);
  const mode_t old_umask = ::umask(022);
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    const std::string script = "readlink /proc/self/ns/pid; pwd; umask; ulimit -n";
    std::filesystem::current_path(a);
    ::umask(022);
    rlimit lim = old_nofile;
    lim.rlim_cur = std::min<rlim_t>(200, old_nofile.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
    const std::string first = sh(c, script);
    EXPECT_EQ(without_first_line(first), a.string() + "\n0022\n" + std::to_string(lim.rlim_cur) + "\n");
    std::filesystem::current_path(b);
    ::umask(077);
    lim.rlim_cur = std::min<rlim_t>(150, old_nofile.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
    EXPECT_EQ(without_first_line(sh(c, script)),
              b.string() + "\n0077\n" + std::to_string(lim.rlim_cur) + "\n");
  }
  ::setrlimit(RLIMIT_NOFILE, &old_nofile);
  ::umask(old_umask);
  std::filesystem::current_path(old_cwd);
  std::filesystem::remove(a);
  std::filesystem::remove(b);
}

// Per-thread state (nice, credentials, no_new_privs, seccomp) changed in
// another thread: that thread's run sees it, the main thread's does not,
// and both used the same sandbox.
std::string in_a_thread(const std::function<void()>& change, bs::Containment c, const std::string& script) {
  std::string out;
  std::thread t([&] {
    change();
    out = sh(c, script);
  });
  t.join();
  return out;
}

TEST(Warm, TheProgramGetsTheCallingThreadsNiceNoNewPrivsAndSeccomp) {
  SKIP_WITHOUT_WARM();
  const std::string script =
      "readlink /proc/self/ns/pid; cut -d' ' -f19 /proc/self/stat; grep -E '^(NoNewPrivs|Seccomp):' "
      "/proc/self/status";
  // Relative to this process's own nice (a suite run under `nice` starts
  // above 0); a thread may always raise its own.
  errno = 0;
  const int own = ::getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  const int raised = std::min(own + 3, 19);
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    const std::string mine = sh(c, script);
    EXPECT_EQ(without_first_line(mine), std::to_string(own) + "\nNoNewPrivs:\t0\nSeccomp:\t0\n");
    const std::string niced = in_a_thread(
        [raised] { ASSERT_EQ(::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), raised), 0); }, c,
        script);
    EXPECT_EQ(without_first_line(niced), std::to_string(raised) + "\nNoNewPrivs:\t0\nSeccomp:\t0\n");
    const std::string filtered = in_a_thread(
        [] {
          ASSERT_EQ(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
          sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
          sock_fprog prog{1, allow};
          ASSERT_EQ(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), 0);
        },
        c, script);
    EXPECT_EQ(without_first_line(filtered), std::to_string(own) + "\nNoNewPrivs:\t1\nSeccomp:\t2\n");
    EXPECT_EQ(without_first_line(sh(c, script)), without_first_line(mine))
        << "the main thread's run took another thread's state";
  }
}

TEST(Warm, TheProgramGetsTheCallingThreadsGroupsOfTheCall) {
  SKIP_WITHOUT_WARM();
  if (::geteuid() != 0) GTEST_SKIP() << "only root can change its groups";
  const std::string script = "readlink /proc/self/ns/pid; grep -E '^(Gid|Groups):' /proc/self/status";
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    const std::string mine = sh(c, script);
    // Raw system calls: glibc's setgroups would change every thread.
    const std::string changed = in_a_thread(
        [] {
          const gid_t groups[] = {4242, 4343};
          ASSERT_EQ(::syscall(SYS_setgroups, 2, groups), 0);
          ASSERT_EQ(::syscall(SYS_setresgid, 4141, 4141, 4141), 0);
        },
        c, script);
    EXPECT_EQ(without_first_line(changed), "Gid:\t4141\t4141\t4141\t4141\nGroups:\t4242 4343 \n");
    EXPECT_EQ(without_first_line(sh(c, script)), without_first_line(mine));
  }
}

// The live warm sandboxes of this process (its children named bs-warm).
int live_sandboxes() {
  int n = 0;
  for (const bs_test::ProcStat& st : bs_test::all_processes()) {
    if (st.ppid == ::getpid() && st.state != 'Z' && bs_test::is_warm_sandbox_init(st.pid)) ++n;
  }
  return n;
}

// Bounded: however many runs are in flight, at most 8 sandboxes exist (the
// runs beyond them make namespaces of their own, where getppid() is 1; in
// a warm sandbox it is 0), and no more than 8 stay idle afterwards.
TEST(Warm, AtMostEightSandboxesExistWhateverTheRunsInFlight) {
  SKIP_WITHOUT_WARM();
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    bs_test::NoLeaks leaks;
    constexpr int kRuns = 14;
    std::vector<std::future<bs::Result>> runs;
    for (int i = 0; i < kRuns; ++i)
      runs.push_back(std::async(std::launch::async, [c] {
        return bs::run({"/bin/sh", "-c", "echo $PPID; sleep 1"}, {.timeout = 60s, .containment = c});
      }));
    int warm = 0;
    for (auto& f : runs) {
      const bs::Result r = f.get();
      EXPECT_EQ(r.exit_code, 0) << r;
      EXPECT_TRUE(r.out.data == "0\n" || r.out.data == "1\n") << r.out.data;
      if (r.out.data == "0\n") ++warm;
    }
    EXPECT_GE(warm, 1) << "no run was warm";
    EXPECT_LE(warm, 8) << "more runs in warm sandboxes than the pool may hold";
    EXPECT_LE(live_sandboxes(), 8);
    leaks.expect_clean();
    EXPECT_EQ(live_sandboxes(), 0) << "drop_warm_sandboxes left one";
  }
}

// A child of fork() makes its own sandboxes: it never enters its parent's,
// and the parent's still serve the parent afterwards.
TEST(Warm, AChildOfForkNeverUsesItsParentsSandboxes) {
  SKIP_WITHOUT_WARM();
  for (bs::Containment c : warm_mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    // A run leaves its sandbox idle, unless a mount from the host retired it.
    std::string ns = pid_namespace_of_a_run(c);
    for (int i = 0; i < 20 && live_sandboxes() == 0; ++i) ns = pid_namespace_of_a_run(c);
    const int sandboxes = live_sandboxes();
    ASSERT_GE(sandboxes, 1);
    const std::string text = bs_test::in_forked_child([&] {
      const bs::Result r = bs::run({"/bin/sh", "-c", "readlink /proc/self/ns/pid"}, {.containment = c});
      bs::drop_warm_sandboxes();
      return r.exit_code == 0 ? r.out.data : "exit " + std::to_string(r.exit_code);
    });
    EXPECT_NE(text.rfind("pid:[", 0), std::string::npos) << text;
    EXPECT_NE(text, ns) << "the child of fork used its parent's sandbox";
    EXPECT_EQ(live_sandboxes(), sandboxes) << "the parent's sandbox did not survive its child";
  }
}

// The fd numbers this process has open.
std::set<int> own_fds() {
  std::set<int> fds;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    fds.insert(std::stoi(e.path().filename()));
  return fds;
}

// A program started outside the library (posix_spawn, so no fork handler
// runs) inherits no fd of the pool.
TEST(Warm, AnExecInheritsNoFdOfThePool) {
  SKIP_WITHOUT_WARM();
  bs::drop_warm_sandboxes();
  const std::set<int> before = own_fds();
  for (bs::Containment c : warm_mechanisms()) (void)pid_namespace_of_a_run(c);  // the pool holds one
  std::set<int> pool;
  for (int fd : own_fds())
    if (before.count(fd) == 0) pool.insert(fd);
  ASSERT_FALSE(pool.empty()) << "the pool holds no fd: nothing to check";
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::string m = bs_test::misbehave();
  std::string mode = "count-fds";
  char* argv[] = {m.data(), mode.data(), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string text;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  std::istringstream numbers(text.substr(text.find('\n') + 1));
  int inherited = 0;
  for (int fd; numbers >> fd;) {
    if (pool.count(fd) != 0) ++inherited;
  }
  EXPECT_EQ(inherited, 0) << "the spawned program has fds of the pool: " << text;
}

}  // namespace
