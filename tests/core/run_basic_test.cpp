// Core tests of run(): session, fds, exit codes, signals, env, cwd, PATH,
// the result's extras (usage, elapsed, str()).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;

namespace {

TEST(RunBasic, ChildHasItsOwnSessionAndGroup) {
  for (bs::Containment c : bs_test::available_containments()) {
    SCOPED_TRACE(std::string(bs::to_string(c)));
    bs_test::NoLeaks leaks;
    bs::Result r = bs::run({misbehave(), "print-ids"}, {.containment = c});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.containment, c);
    long pid = bs_test::field_after(r.out.data, "pid");
    long pgid = bs_test::field_after(r.out.data, "pgid");
    long sid = bs_test::field_after(r.out.data, "sid");
    long ppid = bs_test::field_after(r.out.data, "ppid");
    ASSERT_GT(pid, 0) << r.out.data;
    EXPECT_EQ(pgid, pid);
    EXPECT_EQ(sid, pid);
    if (c == bs::Containment::process_group) {
      EXPECT_NE(pgid, static_cast<long>(::getpgrp()));
      EXPECT_EQ(ppid, static_cast<long>(::getpid())) << "the host is the parent";
    } else if (c == bs::Containment::subreaper) {
      EXPECT_NE(ppid, static_cast<long>(::getpid())) << "the init is the parent";
    } else {
      // Its parent is the run's init (process 1 of the namespace), or in a
      // warm sandbox the run's shepherd, which is outside the namespace
      // (0: no pid there). Never the host.
      EXPECT_TRUE(ppid == 1 || ppid == 0) << "ppid " << ppid;
    }
    leaks.expect_clean({static_cast<pid_t>(pgid)});
  }
}

TEST(RunBasic, ChildGetsExactlyStdFdsEvenWithManyOpenInParent) {
  // Open fds without O_CLOEXEC: the library must not pass them on.
  std::vector<int> extra;
  for (int i = 0; i < 20; ++i) {
    int fd = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(fd, 0);
    extra.push_back(fd);
  }
  int high = ::fcntl(extra[0], F_DUPFD, 900);  // a high fd number too
  ASSERT_GE(high, 900);
  extra.push_back(high);
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "count-fds"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, "3\n0 1 2 \n");
  leaks.expect_clean();
  for (int fd : extra) ::close(fd);
}

TEST(RunBasic, ExitCodesPassThrough) {
  for (int code : {0, 1, 2, 42, 255}) {
    bs_test::NoLeaks leaks;
    bs::Result r = bs::run({misbehave(), "exit", std::to_string(code)});
    EXPECT_EQ(r.exit_code, code) << r;
    EXPECT_EQ(r.reason, bs::EndReason::exited);
    EXPECT_EQ(r.term_signal, 0);
    EXPECT_FALSE(r.timeout);
    EXPECT_FALSE(r.memory_limit_exceeded);
    EXPECT_FALSE(r.stdin_write_failed);
    leaks.expect_clean();
  }
}

TEST(RunBasic, DeathBySignalGivesMinusSignum) {
  for (int sig : {SIGTERM, SIGKILL, SIGSEGV, SIGABRT}) {
    bs_test::NoLeaks leaks;
    bs::Result r = bs::run({misbehave(), "kill-self", std::to_string(sig)});
    EXPECT_EQ(r.exit_code, -sig) << r;
    EXPECT_EQ(r.reason, bs::EndReason::signaled) << r;
    EXPECT_EQ(r.term_signal, sig);
    EXPECT_FALSE(r.timeout);
    leaks.expect_clean();
  }
}

TEST(RunBasic, OutAndErrAreSeparate) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "out-err", "to stdout\n", "to stderr\n"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.data, "to stdout\n");
  EXPECT_EQ(r.err.data, "to stderr\n");
  EXPECT_EQ(r.out.total_bytes, 10u);
  EXPECT_EQ(r.err.total_bytes, 10u);
  EXPECT_FALSE(r.out.truncated);
  EXPECT_FALSE(r.err.truncated);
  leaks.expect_clean();
}

TEST(RunBasic, ArgumentsArePassedVerbatim) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "print-args", "a b", "", "$HOME", "'q'", "\xc3\xa9"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.data, "a b\n\n$HOME\n'q'\n\xc3\xa9\n");
  leaks.expect_clean();
}

TEST(RunBasic, EnvReplacesTheEnvironment) {
  ASSERT_EQ(::setenv("BS_TEST_HOST_ONLY", "host", 1), 0);
  bs_test::NoLeaks leaks;
  bs::Environment env{{"BS_ONE", "1"}, {"BS_TWO", "two words"}};
  bs::Result r = bs::run({misbehave(), "print-env-count"}, {.env = env});
  EXPECT_EQ(r.out.data, "2\n") << r;
  r = bs::run({misbehave(), "print-env", "BS_TWO"}, {.env = env});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.data, "two words\n");
  r = bs::run({misbehave(), "print-env", "BS_TEST_HOST_ONLY"}, {.env = env});
  EXPECT_EQ(r.exit_code, 3) << "the host's variable leaked into a replaced env";
  // An empty map is an empty environment, not "inherit".
  r = bs::run({misbehave(), "print-env-count"}, {.env = bs::Environment{}});
  EXPECT_EQ(r.out.data, "0\n");
  leaks.expect_clean();
  ::unsetenv("BS_TEST_HOST_ONLY");
}

TEST(RunBasic, AbsentEnvInherits) {
  ASSERT_EQ(::setenv("BS_TEST_INHERITED", "from host", 1), 0);
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "print-env", "BS_TEST_INHERITED"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.data, "from host\n");
  leaks.expect_clean();
  ::unsetenv("BS_TEST_INHERITED");
}

TEST(RunBasic, InheritedEnvCanBeExtended) {
  bs_test::NoLeaks leaks;
  ASSERT_EQ(::setenv("BS_TEST_INHERITED2", "kept", 1), 0);
  bs::Environment env = bs::inherited_env();
  EXPECT_EQ(env["BS_TEST_INHERITED2"], "kept");
  env["BS_TEST_ADDED"] = "added";
  bs::Result r = bs::run({misbehave(), "print-env", "BS_TEST_ADDED"}, {.env = env});
  EXPECT_EQ(r.out.data, "added\n");
  r = bs::run({misbehave(), "print-env", "BS_TEST_INHERITED2"}, {.env = env});
  EXPECT_EQ(r.out.data, "kept\n");
  ::unsetenv("BS_TEST_INHERITED2");
  leaks.expect_clean();
}

TEST(RunBasic, PathLookupUsesTheChildsPath) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("bs_core_path_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path link = dir / "bs-only-in-child-path";
  fs::remove(link);
  fs::create_symlink(misbehave(), link);
  bs_test::NoLeaks leaks;
  // Found through the child's PATH, which the host's PATH does not have.
  bs::Result r = bs::run({"bs-only-in-child-path", "exit", "7"},
                         {.env = bs::Environment{{"PATH", dir.string()}}});
  EXPECT_EQ(r.exit_code, 7) << r;
  // And a plain name is looked up in the host's PATH when env is absent.
  r = bs::run({"true"});
  EXPECT_EQ(r.exit_code, 0) << r;
  leaks.expect_clean();
  fs::remove_all(dir);
}

TEST(RunBasic, CwdIsUsed) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "print-cwd"}, {.cwd = "/tmp"});
  EXPECT_EQ(r.out.data, "/tmp\n");
  char here[4096];
  ASSERT_NE(::getcwd(here, sizeof here), nullptr);
  r = bs::run({misbehave(), "print-cwd"});
  EXPECT_EQ(r.out.data, std::string(here) + "\n") << "cwd absent must inherit";
  leaks.expect_clean();
}

TEST(RunBasic, UsageAndElapsedAreFilled) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "spin-ms", "300"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_GT(r.usage.user_cpu.count(), 0) << r;
  EXPECT_GT(r.usage.max_rss_kb, 0u);
  EXPECT_GE(r.elapsed, 0.29s);
  EXPECT_LT(r.elapsed, 10s);
  leaks.expect_clean();
}

TEST(RunBasic, ResultStrAndStreamAreReadable) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "out-err", "hello\n", ""});
  std::string s = r.str();
  EXPECT_NE(s.find("exited"), std::string::npos) << s;
  EXPECT_NE(s.find('0'), std::string::npos) << s;
  std::ostringstream os;
  os << r;
  EXPECT_EQ(os.str(), s);

  bs::Result t = bs::run({misbehave(), "sleep-forever"}, {.timeout = 0.1s});
  EXPECT_NE(t.str().find("time"), std::string::npos) << t.str();  // "timed out" / "timeout"
  bs::Result k = bs::run({misbehave(), "kill-self", "9"});
  std::ostringstream ks;
  ks << k.reason;
  EXPECT_EQ(ks.str(), std::string(bs::to_string(bs::EndReason::signaled)));
  EXPECT_NE(k.str().find("9"), std::string::npos) << k.str();
  leaks.expect_clean();
}

}  // namespace
