// A start the caller does not wait for (ChildSpec::defer_start): the spawn
// returns once the run's init is cloned, and the init reads the command
// (path, argv, environment, cwd) from the host's memory until the program
// has exec'd. What it reads must then be the Child's own copy: the caller's
// strings may be gone, or overwritten, by the time it reads them. A start
// that fails is told by complete_start and thrown by end_failed_start; a
// run ended before its start was taken leaves nothing either way.
//
// The warm pool serves a few runs at once directly (no deferral there):
// each test holds enough runs at once that most are started cold, and
// fails if none was deferred (the test would then prove nothing).
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/run.hpp"
#include "bounded_subprocess/spawn_error.hpp"
#include "leak_check.hpp"
#include "pipe_io.hpp"
#include "spawn/child.hpp"

namespace {

namespace bs = bounded_subprocess;
namespace detail = bounded_subprocess::detail;

constexpr int kRuns = 24;  // more than the warm pool holds at once

bool namespaces_here() {
  return bs::containment_available(bs::Containment::pid_namespace);
}

// The caller's side of one spawn, on the heap, so that it can be destroyed
// (and its memory overwritten first) right after the call.
struct Command {
  std::vector<std::string> argv;
  std::optional<bs::Environment> env;
  std::optional<std::string> cwd;
};

detail::Child spawn_deferred(const Command& c) {
  return detail::Child::spawn({
      .argv = c.argv,
      .env = c.env,
      .cwd = c.cwd,
      .stdout_mode = detail::StdioMode::pipe,
      .stderr_mode = detail::StdioMode::null,
      .defer_start = true,
  });
}

void clobber(Command& c) {
  for (std::string& a : c.argv) a.assign(a.size(), 'X');
  if (c.env)
    for (auto& [name, value] : *c.env) value.assign(value.size(), 'X');
  if (c.cwd) c.cwd->assign(c.cwd->size(), 'X');
}

detail::ExitInfo wait_and_finish(detail::Child& child) {
  while (!child.exited()) {
    pollfd p{child.exit_fd(), POLLIN, 0};
    ::poll(&p, 1, 60'000);
  }
  return child.finish();
}

class DeferredStart : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!namespaces_here()) GTEST_SKIP() << "no PID namespace here: every start is awaited";
    // The first contained run of a process is its own probe (never
    // deferred): done here, before the leak check's baseline.
    ASSERT_EQ(bs::run({"true"}).exit_code, 0);
  }
};

TEST_F(DeferredStart, TheProgramReadsItsOwnCopyOfTheCommand) {
  char dir_template[] = "/tmp/bs-deferred-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  bs_test::NoLeaks leaks;
  std::vector<detail::Child> children;
  int deferred = 0;
  for (int i = 0; i < kRuns; ++i) {
    auto c = std::make_unique<Command>();
    const std::string tag = std::to_string(i);
    c->argv = {"sh", "-c", R"sh(printf '%s|%s|%s' "$1" "$BS_DEFERRED_VALUE" "$(pwd)")sh", "sh",
               "argument-" + tag};
    if (i % 2 == 0) {
      c->env = bs::Environment{{"BS_DEFERRED_VALUE", "own-" + tag}, {"PATH", "/usr/bin:/bin"}};
      c->cwd = dir;
    } else {
      // The host's environment, changed right after the call.
      ASSERT_EQ(::setenv("BS_DEFERRED_VALUE", ("host-" + tag).c_str(), 1), 0);
    }
    children.push_back(spawn_deferred(*c));
    deferred += children.back().starting() ? 1 : 0;
    clobber(*c);
    c.reset();
    ASSERT_EQ(::setenv("BS_DEFERRED_VALUE", std::string(64, 'Y').c_str(), 1), 0);
    for (int k = 0; k < 8; ++k)  // grow the environment: it may move
      ::setenv(("BS_DEFERRED_FILLER_" + tag + "_" + std::to_string(k)).c_str(), "z", 1);
  }
  EXPECT_GT(deferred, 0) << "no start was deferred: nothing was tested";
  char host_cwd[4096];
  ASSERT_NE(::getcwd(host_cwd, sizeof host_cwd), nullptr);
  for (int i = 0; i < kRuns; ++i) {
    detail::Child& child = children[static_cast<std::size_t>(i)];
    ASSERT_TRUE(child.complete_start()) << "run " << i;
    EXPECT_GT(child.pid(), 0);
    const std::string tag = std::to_string(i);
    const std::string expected = i % 2 == 0 ? "argument-" + tag + "|own-" + tag + "|" + dir
                                            : "argument-" + tag + "|host-" + tag + "|" + host_cwd;
    EXPECT_EQ(bs_test::read_to_eof(child.stdout_pipe().get()), expected) << "run " << i;
    const detail::ExitInfo info = wait_and_finish(child);
    EXPECT_TRUE(WIFEXITED(info.status) && WEXITSTATUS(info.status) == 0) << "run " << i;
  }
  children.clear();
  ::unsetenv("BS_DEFERRED_VALUE");
  for (int i = 0; i < kRuns; ++i)
    for (int k = 0; k < 8; ++k)
      ::unsetenv(("BS_DEFERRED_FILLER_" + std::to_string(i) + "_" + std::to_string(k)).c_str());
  ::rmdir(dir.c_str());
  leaks.expect_clean();
}

TEST_F(DeferredStart, AStartThatFailsIsThrownAsTheCallWouldHave) {
  bs_test::NoLeaks leaks;
  struct Case {
    Command command;
    int err;
    bs::SpawnError::Subject subject;
    std::string named;
  };
  std::vector<Case> cases;
  for (int i = 0; i < kRuns; ++i) {
    if (i % 2 == 0)
      cases.push_back({{{"/nonexistent/bs-deferred-program"}, {}, {}},
                       ENOENT,
                       bs::SpawnError::Subject::program,
                       "/nonexistent/bs-deferred-program"});
    else
      cases.push_back({{{"true"}, {}, {"/nonexistent/bs-deferred-dir"}},
                       ENOENT,
                       bs::SpawnError::Subject::cwd,
                       "/nonexistent/bs-deferred-dir"});
  }
  // A warm start that fails gives its sandbox back at once: runs that
  // hold every warm sandbox come first, so that the failing ones go cold.
  std::vector<detail::Child> holders;
  const Command sleeper{{"sleep", "30"}, {}, {}};
  for (int i = 0; i < kRuns; ++i) holders.push_back(spawn_deferred(sleeper));
  std::vector<detail::Child> children;
  std::vector<std::optional<bs::SpawnError>> thrown(cases.size());
  int deferred = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    try {
      children.push_back(spawn_deferred(cases[i].command));
      deferred += children.back().starting() ? 1 : 0;
    } catch (const bs::SpawnError& e) {  // a warm start fails at the call
      children.emplace_back();
      thrown[i] = e;
    }
  }
  EXPECT_GT(deferred, 0) << "no start was deferred: nothing was tested";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (!thrown[i]) {
      detail::Child& child = children[i];
      ASSERT_FALSE(child.complete_start()) << "case " << i << " started";
      try {
        child.end_failed_start();
      } catch (const bs::SpawnError& e) {
        thrown[i] = e;
      }
      EXPECT_TRUE(child.finished());
      EXPECT_EQ(child.exit_fd(), -1);
    }
    ASSERT_TRUE(thrown[i].has_value()) << "case " << i;
    EXPECT_EQ(thrown[i]->code().value(), cases[i].err) << thrown[i]->what();
    EXPECT_EQ(thrown[i]->subject(), cases[i].subject) << thrown[i]->what();
    EXPECT_NE(std::string(thrown[i]->what()).find(cases[i].named), std::string::npos) << thrown[i]->what();
  }
  children.clear();
  for (detail::Child& h : holders) h.kill_and_finish();
  holders.clear();
  leaks.expect_clean();
}

TEST_F(DeferredStart, ARunEndedBeforeItsStartWasTakenLeavesNothing) {
  bs_test::NoLeaks leaks;
  std::vector<pid_t> inits;
  {
    std::vector<detail::Child> children;
    int deferred = 0;
    for (int i = 0; i < 2 * kRuns; ++i) {
      // Runs that start, and runs that cannot: neither report is ever taken.
      const Command c{i % 3 == 2 ? std::vector<std::string>{"/nonexistent/bs-deferred-program"}
                                 : std::vector<std::string>{"sleep", "30"},
                      {},
                      {}};
      try {
        children.push_back(spawn_deferred(c));
      } catch (const bs::SpawnError&) {
        continue;  // a warm start of the missing program
      }
      if (!children.back().starting()) continue;
      ++deferred;
      inits.push_back(children.back().direct_pid());
    }
    EXPECT_GT(deferred, 0) << "no start was deferred: nothing was tested";
    // Half are killed and finished, half only destroyed.
    for (std::size_t i = 0; i < children.size(); i += 2) {
      if (!children[i].starting()) continue;
      const detail::ExitInfo info = children[i].kill_and_finish();
      EXPECT_TRUE(children[i].finished());
      EXPECT_FALSE(WIFEXITED(info.status) && WEXITSTATUS(info.status) == 0) << "a killed run exited 0";
      // Its init ended it and said so: the start's report, taken first,
      // is not mistaken for a missing end.
      EXPECT_FALSE(info.containment_broken) << "run " << i;
    }
  }  // the rest are destroyed here
  for (const pid_t init : inits) EXPECT_EQ(::kill(init, 0) == 0 ? 0 : errno, ESRCH) << "init " << init;
  leaks.expect_clean();
}

}  // namespace
