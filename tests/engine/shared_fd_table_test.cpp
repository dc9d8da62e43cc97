// An init cloned sharing the host's fd table (InitPlan::fetch_from): where
// the host holds many fds (a thousand runs in flight hold four thousand),
// the run's init does not copy the host's table to close it again; it
// makes a table of its own and takes from the host only the fds its plan
// names (pidfd_getfd), each at its number, while the host waits before it
// closes its copies. The program must then get exactly its own stdio, the
// init nothing else of the host's, and a forked child must take its fds
// from itself, never from its parent.
//
// The warm pool serves a few runs at once directly (no init of their own):
// each test holds enough runs at once that most are started cold.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/run.hpp"
#include "leak_check.hpp"
#include "pipe_io.hpp"
#include "spawn/child.hpp"

namespace {

namespace bs = bounded_subprocess;
namespace detail = bounded_subprocess::detail;

constexpr int kRuns = 24;        // more than the warm pool holds at once
constexpr int kHostPipes = 300;  // 600 fds: far above the host's pidfd

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 60'000);
    } else if (n < 0 && errno != EINTR) {
      return false;
    }
  }
  return true;
}

// The fds a process holds, from its /proc entry (-1: cannot be read).
int fds_of(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec))
    ++n;
  return ec ? -1 : n;
}

// The pipes of a busy host, closed at the end.
class HostFds {
 public:
  HostFds() {
    for (int i = 0; i < kHostPipes; ++i) {
      int p[2];
      if (::pipe(p) != 0) break;
      fds_.push_back(p[0]);
      fds_.push_back(p[1]);
    }
  }
  ~HostFds() {
    for (const int fd : fds_) ::close(fd);
  }
  HostFds(const HostFds&) = delete;
  HostFds& operator=(const HostFds&) = delete;
  bool complete() const { return fds_.size() == 2 * kHostPipes; }

 private:
  std::vector<int> fds_;
};

// kRuns contained runs held at once among the host's many fds, each
// blocked reading its stdin until all have started: while they wait, each
// run's init must hold a handful of fds; then each program lists its own
// fds (its stdio, and the listing's), writes to stderr and exits 0 only
// when the listing was right. An empty string when all is as it must be,
// else what was not.
std::string runs_get_their_own_fds() {
  // The listing's own fd is 3. The exit status says it too: where both
  // outputs go to the same /dev/null (one fd of the host for two).
  const std::vector<std::string> argv = {
      "sh", "-c",
      "read go; fds=$(ls /proc/self/fd | tr '\\n' ' '); printf %s \"$fds\"; echo err-$go >&2; "
      "test \"$fds\" = '0 1 2 3 '"};
  const std::optional<bs::Environment> env;
  const std::optional<std::string> cwd;
  std::vector<detail::Child> children;
  for (int i = 0; i < kRuns; ++i) {
    children.push_back(detail::Child::spawn({
        .argv = argv,
        .env = env,
        .cwd = cwd,
        .stdin_mode = detail::StdioMode::pipe,
        .stdout_mode = i % 3 == 2 ? detail::StdioMode::null : detail::StdioMode::pipe,
        .stderr_mode = i % 3 == 0 ? detail::StdioMode::pipe : detail::StdioMode::null,
        .defer_start = i % 2 != 0,
    }));
  }
  std::string wrong;
  for (int i = 0; i < kRuns; ++i) {
    detail::Child& child = children[static_cast<std::size_t>(i)];
    const std::string run = "run " + std::to_string(i) + ": ";
    if (child.starting() && !child.complete_start()) {
      wrong += run + "did not start\n";
      continue;
    }
    // The init (or, for a warm run, the program): its stdio, channel,
    // /proc, signalfd, cgroup: a handful, not the host's hundreds.
    if (const int held = fds_of(child.direct_pid()); held < 0 || held > 24)
      wrong += run + "its init holds " + std::to_string(held) + " fds\n";
    if (!write_all(child.stdin_pipe().get(), std::to_string(i) + "\n")) wrong += run + "stdin refused\n";
    child.stdin_pipe().reset();
  }
  for (int i = 0; i < kRuns; ++i) {
    detail::Child& child = children[static_cast<std::size_t>(i)];
    const std::string run = "run " + std::to_string(i) + ": ";
    if (child.finished()) continue;
    if (i % 3 != 2) {
      if (const std::string out = bs_test::read_to_eof(child.stdout_pipe().get()); out != "0 1 2 3 ")
        wrong += run + "the program held the fds [" + out + "]\n";
    }
    if (i % 3 == 0) {
      if (const std::string err = bs_test::read_to_eof(child.stderr_pipe().get());
          err != "err-" + std::to_string(i) + "\n")
        wrong += run + "stderr [" + err + "]\n";
    }
    while (!child.exited()) {
      pollfd p{child.exit_fd(), POLLIN, 0};
      ::poll(&p, 1, 60'000);
    }
    const detail::ExitInfo info = child.finish();
    if (!WIFEXITED(info.status) || WEXITSTATUS(info.status) != 0)
      wrong += run + "status " + std::to_string(info.status) + "\n";
  }
  return wrong;
}

class SharedFdTable : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!bs::containment_available(bs::Containment::pid_namespace))
      GTEST_SKIP() << "no PID namespace here: no init of a run's own";
    // The first contained run of a process is its own probe; the host's
    // pidfd is opened at a start, before the many fds below.
    ASSERT_EQ(bs::run({"true"}).exit_code, 0);
    rlimit nofile{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
    if (nofile.rlim_cur < 4 * kHostPipes) {
      nofile.rlim_cur = nofile.rlim_max < 4 * kHostPipes ? nofile.rlim_max : 4 * kHostPipes;
      ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0);
    }
  }

  // Where the inits can take fds from the host (no user namespace of their
  // own, no seccomp filter): only the root of a machine without a filter.
  static bool inits_can_take_fds() { return ::geteuid() == 0 && ::prctl(PR_GET_SECCOMP) == 0; }
};

TEST_F(SharedFdTable, RunsAmongHundredsOfHostFdsGetExactlyTheirOwn) {
  bs_test::NoLeaks leaks;
  {
    const HostFds host;
    ASSERT_TRUE(host.complete());
    const std::uint64_t before = detail::inits_that_took_their_fds();
    EXPECT_EQ(runs_get_their_own_fds(), "");
    if (inits_can_take_fds()) {
      EXPECT_GT(detail::inits_that_took_their_fds(), before) << "no init took its fds: nothing was tested";
    }
  }
  leaks.expect_clean();
}

// A forked child inherits the parent's pidfd with the rest of its fds: its
// inits must take their fds from the child, or each would get whatever
// the parent holds at those numbers (or nothing).
TEST_F(SharedFdTable, AForkedChildsRunsTakeTheirFdsFromTheChild) {
  const std::uint64_t before = detail::inits_that_took_their_fds();
  {
    const HostFds host;  // the parent's own runs share its table
    ASSERT_TRUE(host.complete());
    ASSERT_EQ(runs_get_their_own_fds(), "");
  }
  if (inits_can_take_fds()) {
    ASSERT_GT(detail::inits_that_took_their_fds(), before) << "no init took its fds: nothing was tested";
  }
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(report[0]);
    // Other fds than the parent's at the numbers the runs use.
    const HostFds host;
    const std::uint64_t child_before = detail::inits_that_took_their_fds();
    std::string wrong = host.complete() ? runs_get_their_own_fds() : "cannot open the pipes\n";
    if (inits_can_take_fds() && detail::inits_that_took_their_fds() == child_before)
      wrong += "no init of the child took its fds\n";
    write_all(report[1], wrong);
    ::_exit(wrong.empty() ? 0 : 1);
  }
  ::close(report[1]);
  const std::string wrong = bs_test::read_to_eof(report[0]);
  ::close(report[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(wrong, "");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
