// Tests of the test support itself: each leak check must fail when there is
// a leak (a check that cannot fail proves nothing).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "leak_check.hpp"

namespace {

// Runs `f` and returns the messages of the gtest failures it reported,
// without failing the current test.
std::string failures_of(const std::function<void()>& f) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    f();
  }
  std::string all;
  for (int i = 0; i < results.size(); ++i) all += results.GetTestPartResult(i).message();
  return all;
}

bool wait_for_state(pid_t pid, char state) {
  return !bs_test::still_true_after([&] {
    bs_test::ProcStat st;
    return !bs_test::read_proc_stat(pid, &st) || st.state != state;
  });
}

TEST(LeakCheck, CleanStateIsClean) {
  bs_test::NoLeaks leaks(std::chrono::milliseconds(200));
  EXPECT_EQ(failures_of([&] { leaks.expect_clean(); }), "");
}

TEST(LeakCheck, FdLeakIsCaught) {
  bs_test::NoLeaks leaks(std::chrono::milliseconds(200));
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_NE(failures_of([&] { leaks.expect_clean(); }).find("fd leak"), std::string::npos);
  ::close(fd);
  leaks.expect_clean();
}

TEST(LeakCheck, ZombieChildIsCaught) {
  bs_test::NoLeaks leaks(std::chrono::milliseconds(200));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setsid();  // like a run's direct child: a session leader
    ::_exit(0);
  }
  ASSERT_TRUE(wait_for_state(pid, 'Z'));
  EXPECT_EQ(bs_test::count_my_zombie_children(), 1);
  EXPECT_TRUE(bs_test::pid_alive(pid)) << "an unreaped zombie of ours is not gone";
  EXPECT_NE(failures_of([&] { leaks.expect_clean(); }).find("unreaped child"), std::string::npos);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  leaks.expect_clean();
}

TEST(LeakCheck, LiveGroupAndChildAreCaught) {
  bs_test::NoLeaks leaks(std::chrono::milliseconds(200));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    for (;;) ::pause();
  }
  ::setpgid(pid, pid);  // either side may win the race; both set the same
  ASSERT_FALSE(bs_test::still_true_after([&] { return !bs_test::group_alive(pid); }));
  std::string f = failures_of([&] { leaks.expect_clean({pid}, {pid}); });
  EXPECT_NE(f.find("still has processes"), std::string::npos) << f;
  EXPECT_NE(f.find("still alive"), std::string::npos) << f;
  EXPECT_NE(f.find("still running"), std::string::npos) << f;
  ::kill(pid, SIGKILL);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  EXPECT_FALSE(bs_test::group_alive(pid));
  leaks.expect_clean({pid}, {pid});
}

TEST(LeakCheck, AdoptedOrphanIsCaught) {
  ASSERT_TRUE(bs_test::is_subreaper()) << "the core tests run as a subreaper";
  bs_test::NoLeaks leaks(std::chrono::milliseconds(200));
  bs_test::NoLeaks settled;  // the default grace: the killed orphan may take a moment to go
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t mid = ::fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {
    // A session leader (like a run's child) whose own child outlives it.
    ::setsid();
    pid_t orphan = ::fork();
    if (orphan == 0) {
      for (;;) ::pause();
    }
    (void)!::write(fds[1], &orphan, sizeof orphan);
    ::_exit(0);
  }
  ::close(fds[1]);
  pid_t orphan = -1;
  ASSERT_EQ(::read(fds[0], &orphan, sizeof orphan), static_cast<ssize_t>(sizeof orphan));
  ::close(fds[0]);
  ASSERT_EQ(::waitpid(mid, nullptr, 0), mid);
  // The orphan is re-parented to us, the subreaper.
  ASSERT_FALSE(bs_test::still_true_after([&] {
    bs_test::ProcStat st;
    return !bs_test::read_proc_stat(orphan, &st) || st.ppid != ::getpid();
  }));
  std::string f = failures_of([&] { leaks.expect_clean(); });
  EXPECT_NE(f.find("descendant(s) of a run still alive"), std::string::npos) << f;
  ::kill(orphan, SIGKILL);
  // expect_clean reaps the adopted zombie itself.
  settled.expect_clean({}, {orphan});
}

}  // namespace
