// The host misbehaves: it ignores SIGCHLD, or it is killed with SIGKILL
// while a contained run is going on (bs_containment_host does both).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bounded_subprocess/run.hpp>

#include <cstring>

#include "containment_test_util.hpp"

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

TEST(Host, IgnoringSigchldNeverTurnsAStatusIntoZero) {
  for (bs::Containment c : mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    int out = -1;
    const pid_t host =
        start_host({"sigchld-ignored", std::string(bs::to_string(c)), bs_test::misbehave()}, out);
    const std::string text = read_to_eof(out);
    ::close(out);
    int status = 0;
    ASSERT_EQ(::waitpid(host, &status, 0), host);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
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

TEST(Host, KilledHostLeavesNothing) {
  for (bs::Containment c : mechanisms()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    int out = -1;
    const pid_t host = start_host({"hold", std::string(bs::to_string(c)), bs_test::misbehave()}, out);
    char buf[16] = {};
    ssize_t n;
    do {
      n = ::read(out, buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    ::close(out);
    ASSERT_GT(n, 0) << "the host did not start its run";
    ASSERT_EQ(std::string(buf), "ready\n");
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

}  // namespace
