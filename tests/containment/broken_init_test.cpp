// A run whose init is killed before it can report (issue: `kill -9 $PPID`
// from a subreaper's program left the program and its children running and
// the run ended with an error). The host must end every process of the run
// it can find, never leave the program alive, and say so in the result
// (reason containment_broken).
#include <bounded_subprocess/run.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <vector>

#include "containment_test_util.hpp"

namespace {

using namespace bs_containment;
using namespace std::chrono_literals;

TEST(BrokenInit, SubreaperProgramKillsItsInit) {
  if (!bs::containment_available(bs::Containment::subreaper)) GTEST_SKIP() << "no subreaper here";
  const auto started = std::chrono::steady_clock::now();
  // The program (sh) kills its parent, the init, and goes on; none of them
  // leaves the session.
  const bs::Result r = bs::run({"sh", "-c", "sleep 331 & sleep 0.5; kill -9 $PPID; sleep 333"},
                               {.timeout = 30s, .containment = bs::Containment::subreaper});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 25s);
  EXPECT_EQ(r.reason, bs::EndReason::containment_broken) << r;
  EXPECT_FALSE(r.timeout);
  // The test process is a child subreaper: the killed init's orphans (the
  // program among them) became its children, so the host took the
  // program's true status: the SIGKILL it sent.
  EXPECT_EQ(r.exit_code, -9) << r;
  expect_contained(bs::Containment::subreaper, "the program, its sleeps");
}

TEST(BrokenInit, SubreaperProgramKillsItsInitAndForks) {
  if (!bs::containment_available(bs::Containment::subreaper)) GTEST_SKIP() << "no subreaper here";
  // Descendants that left the session but whose parent lives are found
  // below the program; a process group of its own is found in the session.
  const bs::Result r =
      bs::run({"sh", "-c",
               "setsid sleep 331 & (sleep 332 & wait) & sh -c 'kill -9 $(ps -o ppid= -p $PPID)' ; sleep 333"},
              {.timeout = 30s, .containment = bs::Containment::subreaper});
  EXPECT_EQ(r.reason, bs::EndReason::containment_broken) << r;
  expect_contained(bs::Containment::subreaper, "setsid sleep, a subshell's sleep");
}

// The init of a PID namespace cannot be killed from inside it (the kernel
// drops the signals of its own namespace), but from outside it can (the OOM
// killer, an administrator): the kernel then ends the namespace, and the
// run ends with the same verdict. The init is the run's own (bs-init: a
// namespace made for it, or a shepherd that entered a warm sandbox), or,
// where the host entered a warm sandbox directly, the sandbox's (bs-warm),
// found by the namespace of the run's program.
struct RunInit {
  pid_t pid = 0;
  bool sandbox = false;  ///< a warm sandbox's init, not a run's
};

RunInit find_init_below_us() {
  std::string program_ns;
  std::vector<pid_t> sandboxes;
  for (const auto& st : bs_test::all_processes()) {
    if (st.state == 'Z' || !bs_test::is_my_descendant(st)) continue;
    const std::string proc = "/proc/" + std::to_string(st.pid);
    std::ifstream comm(proc + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name == "bs-init") return {st.pid, false};
    if (name == "bs-warm") sandboxes.push_back(st.pid);
    std::ifstream cmdline(proc + "/cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args == std::string("sleep\0"
                            "333\0",
                            10))
      program_ns = std::filesystem::read_symlink(proc + "/ns/pid");
  }
  if (program_ns.empty()) return {};
  for (pid_t pid : sandboxes) {
    std::error_code ec;
    if (std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", ec).string() == program_ns)
      return {pid, true};
  }
  return {};
}

TEST(BrokenInit, NamespaceInitKilledFromOutside) {
  for (bs::Containment c : {bs::Containment::pid_namespace, bs::Containment::cgroup}) {
    if (!bs::containment_available(c)) continue;
    SCOPED_TRACE(std::string(bs::to_string(c)));
    auto run = std::async(std::launch::async, [c] {
      return bs::run({"sh", "-c", "sleep 331 & setsid sleep 332 & echo ready; exec sleep 333"},
                     {.timeout = 60s, .containment = c});
    });
    RunInit init;
    const auto until = std::chrono::steady_clock::now() + 20s;
    while ((init = find_init_below_us()).pid == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    ASSERT_NE(init.pid, 0) << "no init of the run found";
    std::this_thread::sleep_for(200ms);  // let the sleeps start
    ASSERT_EQ(::kill(init.pid, SIGKILL), 0);
    ASSERT_EQ(run.wait_for(30s), std::future_status::ready);
    const bs::Result r = run.get();
    EXPECT_EQ(r.reason, bs::EndReason::containment_broken) << r;
    // A run's init took the program's status with it; the program of a
    // sandbox entered directly is our child, killed with the namespace.
    EXPECT_EQ(r.exit_code, init.sandbox ? -9 : -1) << r;
    expect_contained(c, "the namespace's processes");
  }
}

}  // namespace
