// Interactive (sync) against misbehaving children: never reads, never writes,
// floods without a newline, dies while we write, dies at once, ignores EOF,
// forks into its group; close and destructor semantics. Each test checks
// that no process, zombie or fd is left.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bounded_subprocess/interactive.hpp"
#include "interactive_test_util.hpp"
#include "leak_check.hpp"

using namespace std::chrono_literals;
using bounded_subprocess::Interactive;
using bs_itest::Clock;
using bs_itest::seconds_since;

namespace {
std::string helper() {
  return bs_test::misbehave();
}
}  // namespace

TEST(InteractiveMisbehave, ChildThatNeverReadsMakesLargeWriteTimeOut) {
  bs_test::NoLeaks leaks;
  Interactive proc({helper(), "sleep-forever"});
  const pid_t pid = proc.pid();
  const std::string block(4 << 20, 'x');  // far more than a pipe holds
  const auto t0 = Clock::now();
  EXPECT_FALSE(proc.write(block, 200ms));
  const double took = seconds_since(t0);
  EXPECT_GE(took, 0.2);
  EXPECT_LT(took, 5.0);
  EXPECT_TRUE(proc.is_running());  // a timed-out write does not kill
  EXPECT_EQ(proc.close(100ms), -9);
  leaks.expect_clean({pid});
}

// write says why it failed with async_write's codes (Asio's values: errno in
// the system category) and how much it wrote.
TEST(InteractiveMisbehave, WriteReportsAsyncWritesCodes) {
  bs_test::NoLeaks leaks;
  const std::error_code timed_out(ETIMEDOUT, std::system_category());
  const std::error_code broken_pipe(EPIPE, std::system_category());
  const std::error_code aborted(ECANCELED, std::system_category());
  Interactive silent({helper(), "sleep-forever"});
  const std::string block(4 << 20, 'x');  // far more than a pipe holds
  const bounded_subprocess::WriteResult late = silent.write(block, 200ms);
  EXPECT_FALSE(late);
  EXPECT_EQ(late.error, timed_out);
  EXPECT_EQ(late.error, std::errc::timed_out);
  EXPECT_LT(late.written, block.size());
  const bounded_subprocess::WriteResult ok = silent.write("", 1s);
  EXPECT_TRUE(ok);
  EXPECT_EQ(ok.error, std::error_code());
  const pid_t silent_pid = silent.pid();
  EXPECT_EQ(silent.close(100ms), -9);
  const bounded_subprocess::WriteResult closed = silent.write("x\n", 1s);
  EXPECT_EQ(closed.error, aborted);
  EXPECT_EQ(closed.written, 0u);

  Interactive deaf({helper(), "close-stdin-sleep"});
  const pid_t deaf_pid = deaf.pid();
  ASSERT_EQ(deaf.read_line(10s).value_or("?"), "closed");
  EXPECT_EQ(deaf.write("data\n", 5s).error, broken_pipe);

  Interactive gone({helper(), "exit", "3"});
  const pid_t gone_pid = gone.pid();
  EXPECT_FALSE(bs_test::still_true_after([&] { return gone.is_running(); }, 5000ms));
  EXPECT_EQ(gone.write("hello\n", 1s).error, broken_pipe);

  Interactive cat({"cat"});
  const pid_t cat_pid = cat.pid();
  const bounded_subprocess::WriteResult all = cat.write("hello\n", 5s);
  EXPECT_TRUE(all);
  EXPECT_EQ(all.written, 6u);
  EXPECT_EQ(cat.read_line(5s).value_or("?"), "hello");
  EXPECT_EQ(cat.close(5s), 0);
  EXPECT_EQ(deaf.close(100ms), -9);
  EXPECT_EQ(gone.close(1s), 3);
  leaks.expect_clean({silent_pid, deaf_pid, gone_pid, cat_pid});
}

TEST(InteractiveMisbehave, ChildThatNeverWritesMakesReadTimeOut) {
  bs_test::NoLeaks leaks;
  Interactive proc({helper(), "sleep-forever"});
  const pid_t pid = proc.pid();
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    EXPECT_FALSE(proc.read_line(50ms).has_value());
    EXPECT_LT(seconds_since(t0), 5.0);
  }
  EXPECT_EQ(proc.close(50ms), -9);
  leaks.expect_clean({pid});
}

TEST(InteractiveMisbehave, FloodWithoutNewlineKeepsMemoryBounded) {
  bs_test::NoLeaks leaks;
  Interactive proc({helper(), "write-forever-no-newline"}, {.max_line_size = 4096});
  const pid_t pid = proc.pid();
  const long rss_before = bs_test::self_rss_kb();
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    EXPECT_FALSE(proc.read_line(300ms).has_value());
    EXPECT_LT(seconds_since(t0), 5.0);  // the flood does not hold read_line past its deadline
  }
  const long rss_after = bs_test::self_rss_kb();
  EXPECT_LT(rss_after - rss_before, 64 * 1024)
      << "RSS grew from " << rss_before << " to " << rss_after << " KiB";
  // Closing the pipes makes its next write raise SIGPIPE, which kills it.
  EXPECT_EQ(proc.close(5s), -SIGPIPE);
  leaks.expect_clean({pid});
}

TEST(InteractiveMisbehave, ChildDyingWhileWeWriteGivesFalseWithoutSigpipe) {
  bs_test::NoLeaks leaks;
  const auto before = bs_itest::SignalState::now();
  void* handler = bs_itest::sigpipe_handler();
  // Never reads stdin, exits after 100 ms: the write is blocked on a full
  // pipe when the child goes.
  Interactive proc({helper(), "exit-after-ms", "100", "0"});
  const pid_t pid = proc.pid();
  const auto t0 = Clock::now();
  EXPECT_FALSE(proc.write(std::string(8 << 20, 'y'), 30s));
  EXPECT_LT(seconds_since(t0), 10.0);  // the exit ends the wait, not the timeout
  EXPECT_FALSE(proc.write("more\n", 1s));
  const auto after = bs_itest::SignalState::now();
  EXPECT_TRUE(before.same_mask(after)) << "signal mask changed";
  EXPECT_FALSE(after.sigpipe_pending);
  EXPECT_EQ(bs_itest::sigpipe_handler(), handler);
  EXPECT_EQ(proc.close(5s), 0);
  leaks.expect_clean({pid});
}

TEST(InteractiveMisbehave, BrokenPipeGivesFalseWithoutSigpipe) {
  bs_test::NoLeaks leaks;
  const auto before = bs_itest::SignalState::now();
  void* handler = bs_itest::sigpipe_handler();
  Interactive proc({helper(), "close-stdin-sleep"});
  const pid_t pid = proc.pid();
  ASSERT_EQ(proc.read_line(10s).value_or("?"), "closed");
  // The child is alive but nobody reads the pipe: EPIPE, and SIGPIPE would
  // kill this test process if it ever reached it.
  EXPECT_TRUE(proc.is_running());
  EXPECT_FALSE(proc.write("data\n", 5s));
  EXPECT_FALSE(proc.write("again\n", 5s));
  const auto after = bs_itest::SignalState::now();
  EXPECT_TRUE(before.same_mask(after)) << "signal mask changed";
  EXPECT_FALSE(after.sigpipe_pending);
  EXPECT_EQ(bs_itest::sigpipe_handler(), handler);
  EXPECT_EQ(proc.close(100ms), -9);
  leaks.expect_clean({pid});
}

TEST(InteractiveMisbehave, ChildDyingRightAfterStart) {
  bs_test::NoLeaks leaks;
  Interactive proc({helper(), "exit", "3"});
  const pid_t pid = proc.pid();
  EXPECT_FALSE(bs_test::still_true_after([&] { return proc.is_running(); }, 5000ms));
  EXPECT_FALSE(proc.write("hello\n", 1s));
  EXPECT_FALSE(proc.read_line(1s).has_value());
  EXPECT_EQ(proc.close(1s), 3);
  leaks.expect_clean({pid});
}

TEST(InteractiveMisbehave, DoubleCloseReturnsTheSameCode) {
  bs_test::NoLeaks leaks;
  Interactive proc({"cat"});
  const pid_t pid = proc.pid();
  EXPECT_EQ(proc.close(5s), 0);
  EXPECT_EQ(proc.close(5s), 0);
  EXPECT_EQ(proc.close(0s), 0);
  EXPECT_FALSE(proc.write("x\n", 1s));  // closed: false, not a crash
  EXPECT_FALSE(proc.read_line(1s).has_value());

  Interactive killed({helper(), "sleep-forever"});
  const pid_t pid_killed = killed.pid();
  EXPECT_EQ(killed.close(0s), -9);
  EXPECT_EQ(killed.close(5s), -9);
  leaks.expect_clean({pid, pid_killed});
}

TEST(InteractiveMisbehave, CloseAfterNormalExitReturnsItsStatus) {
  bs_test::NoLeaks leaks;
  Interactive seven({"/bin/sh", "-c", "exit 7"});
  Interactive signalled({helper(), "kill-self", "15"});
  const pid_t p1 = seven.pid(), p2 = signalled.pid();
  EXPECT_FALSE(bs_test::still_true_after([&] { return seven.is_running() || signalled.is_running(); }));
  EXPECT_EQ(seven.close(1s), 7);
  EXPECT_EQ(signalled.close(1s), -15);
  leaks.expect_clean({p1, p2});
}

TEST(InteractiveMisbehave, ChildIgnoringStdinEofIsKilledAfterNiceTimeout) {
  bs_test::NoLeaks leaks;
  Interactive proc({helper(), "ignore-sigterm-sleep"});
  const pid_t pid = proc.pid();
  ASSERT_EQ(proc.read_line(10s).value_or("?"), "ready");
  const auto t0 = Clock::now();
  EXPECT_EQ(proc.close(300ms), -9);
  const double took = seconds_since(t0);
  EXPECT_GE(took, 0.3);
  EXPECT_LT(took, 5.0);
  leaks.expect_clean({pid});
}

TEST(InteractiveMisbehave, CloseReturnsAsSoonAsTheChildExits) {
  bs_test::NoLeaks leaks;
  Interactive proc({"cat"});
  const pid_t pid = proc.pid();
  const auto t0 = Clock::now();
  EXPECT_EQ(proc.close(30s), 0);  // cat exits on EOF: no waiting for the 30 s
  EXPECT_LT(seconds_since(t0), 5.0);
  leaks.expect_clean({pid});
}

TEST(InteractiveMisbehave, DestructorWithoutCloseKillsAndReaps) {
  bs_test::NoLeaks leaks;
  pid_t pid1, pid2;
  {
    Interactive a({helper(), "ignore-sigterm-sleep"});
    Interactive b({"cat"});
    pid1 = a.pid();
    pid2 = b.pid();
    ASSERT_TRUE(b.write("pending\n", 5s));
  }
  // At once, no grace period: the destructor killed and reaped both.
  EXPECT_EQ(bs_test::count_my_zombie_children(), 0);
  EXPECT_FALSE(bs_test::pid_alive(pid1));
  EXPECT_FALSE(bs_test::pid_alive(pid2));
  leaks.expect_clean({pid1, pid2});
}

namespace {
// Destroys `proc` on another thread and waits for it up to `limit`; on a
// hang, kills the group itself (so that the thread can end) and fails.
void destroy_within(std::unique_ptr<Interactive> proc, std::chrono::seconds limit) {
  const pid_t pid = proc->pid();
  auto done = std::async(std::launch::async, [p = std::move(proc)]() mutable { p.reset(); });
  if (done.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << "the destructor did not return within " << limit.count() << " s";
    ::kill(-pid, SIGKILL);
  }
  done.get();
}
}  // namespace

// A child that ignores EOF on its stdin, SIGTERM and SIGHUP, and whose
// grandchild does too: closing the pipes (or a polite signal) never ends
// them, only the destructor's kill of the group does, and the destructor
// returns once the child is reaped.
TEST(InteractiveMisbehave, DestructorKillsAChildThatIgnoresEofAndSigterm) {
  bs_test::NoLeaks leaks;
  auto proc = std::make_unique<Interactive>(std::vector<std::string>{helper(), "echo-ignore-eof"});
  const pid_t pid = proc->pid();
  const auto grandchild =
      static_cast<pid_t>(bs_test::field_after(proc->read_line(10s).value_or(""), "grandchild"));
  ASSERT_GT(grandchild, 0);
  ASSERT_TRUE(proc->write("ping\n", 5s));
  EXPECT_EQ(proc->read_line(10s).value_or("?"), "ping");
  ASSERT_TRUE(proc->write("unread\n", 5s));  // left in the pipes
  destroy_within(std::move(proc), 30s);
  EXPECT_FALSE(bs_test::pid_alive(pid)) << "the destructor returned before the child was killed and reaped";
  leaks.expect_clean({pid}, {grandchild});
}

// The same after a close whose polite wait timed out: close kills too.
TEST(InteractiveMisbehave, CloseKillsAChildThatIgnoresEofAndSigterm) {
  bs_test::NoLeaks leaks;
  Interactive proc({helper(), "echo-ignore-eof"});
  const pid_t pid = proc.pid();
  const auto grandchild =
      static_cast<pid_t>(bs_test::field_after(proc.read_line(10s).value_or(""), "grandchild"));
  ASSERT_GT(grandchild, 0);
  EXPECT_EQ(proc.close(200ms), -9);
  EXPECT_FALSE(bs_test::pid_alive(pid));
  leaks.expect_clean({pid}, {grandchild});
}

// pid() names the program in our PID namespace, under every containment
// (an init reports it: from its own clone under a subreaper, through /proc
// from inside a PID namespace).
TEST(InteractiveMisbehave, PidNamesTheProgramInOurNamespace) {
  for (bounded_subprocess::Containment c : bs_test::available_containments()) {
    SCOPED_TRACE(std::string(bounded_subprocess::to_string(c)));
    bs_test::NoLeaks leaks;
    Interactive proc({helper(), "sleep-forever"}, {.containment = c});
    const pid_t pid = proc.pid();
    ASSERT_GT(pid, 0);
    // The start returns once the exec has let go of our memory, which can
    // be a moment before /proc shows the new executable: wait for it.
    const std::filesystem::path exe = "/proc/" + std::to_string(pid) + "/exe";
    const std::filesystem::path program = std::filesystem::canonical(helper());
    const bool other_program = bs_test::still_true_after([&] {
      std::error_code error;
      return std::filesystem::read_symlink(exe, error) != program;
    });
    EXPECT_FALSE(other_program) << exe << " is not " << program;
    EXPECT_TRUE(bs_test::same_process_inside(bs_test::pid_inside(pid), pid, c)) << bs_test::pid_inside(pid);
    EXPECT_EQ(proc.close(100ms), -9);
    leaks.expect_clean({pid});
  }
}

// The memory a contained start runs on (its stacks, with guard pages) stays
// in one mapping with its neighbours: an init's exit walks every mapping of
// the host, so runs that each added a few would make every run's end cost
// more the more runs are going on.
TEST(InteractiveMisbehave, ConcurrentRunsAddFewMappingsToTheHost) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer maps shadow memory of its own for each new mapping";
#endif
  void* probe = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(probe, MAP_FAILED);
  const bool guard_pages_in_place = ::madvise(probe, 4096, 102 /* MADV_GUARD_INSTALL */) == 0;
  ::munmap(probe, 4096);
  if (!guard_pages_in_place) GTEST_SKIP() << "no MADV_GUARD_INSTALL (Linux 6.13): guard pages split mappings";
  auto mappings = [] {
    std::ifstream maps("/proc/self/maps");
    int n = 0;
    for (std::string line; std::getline(maps, line);) ++n;
    return n;
  };
  constexpr int kRuns = 64;
  for (bounded_subprocess::Containment c : bs_test::available_containments()) {
    if (c == bounded_subprocess::Containment::process_group) continue;  // no init: nothing kept per run
    SCOPED_TRACE(std::string(bounded_subprocess::to_string(c)));
    bs_test::NoLeaks leaks;
    std::vector<std::unique_ptr<Interactive>> runs;
    runs.reserve(kRuns);
    const int before = mappings();
    for (int i = 0; i < kRuns; ++i)
      runs.push_back(std::make_unique<Interactive>(std::vector<std::string>{"cat"},
                                                   bounded_subprocess::Options{.containment = c}));
    const int during = mappings();
    // Four per run when each guard page is a mapping of its own; the bound
    // leaves room for what a sanitizer's allocator maps meanwhile.
    EXPECT_LT(during - before, kRuns)
        << before << " mappings before, " << during << " with " << kRuns << " runs";
    for (auto& run : runs) EXPECT_EQ(run->close(5s), 0);  // cat ends at the EOF of its stdin
    runs.clear();
    leaks.expect_clean();
  }
}

TEST(InteractiveMisbehave, GrandchildOfAChildThatExitedIsKilledOnClose) {
  // With a process group, the grandchild lives until close() kills the
  // group; contained otherwise, it dies with the child's exit already (the
  // run ends there), and close() finds nothing left.
  for (bounded_subprocess::Containment c : bs_test::available_containments()) {
    SCOPED_TRACE(std::string(bounded_subprocess::to_string(c)));
    bs_test::NoLeaks leaks;
    Interactive proc({helper(), "fork-grandchild-sleep"}, {.containment = c});
    const pid_t pid = proc.pid();
    const std::string l1 = proc.read_line(10s).value_or("");
    const std::string l2 = proc.read_line(10s).value_or("");
    const long pgid = bs_test::field_after(l1, "pgid");
    const long grandchild = bs_test::field_after(l2, "grandchild");
    EXPECT_EQ(pgid, bs_test::field_after(l1, "pid")) << "own session: the group is its pid: " << l1;
    EXPECT_TRUE(bs_test::same_process_inside(pgid, pid, c)) << l1 << " is not process " << pid;
    ASSERT_GT(grandchild, 0);
    if (c == bounded_subprocess::Containment::process_group) {
      EXPECT_TRUE(bs_test::pid_alive(static_cast<pid_t>(grandchild)));
    } else {
      EXPECT_FALSE(bs_test::still_true_after([&] { return proc.is_running(); }, 10s));
      EXPECT_TRUE(bs_test::live_descendants(/*reap=*/false).empty())
          << "the grandchild outlived the child's exit";
    }
    EXPECT_EQ(proc.close(5s), 0);  // the child exited 0; the grandchild is killed
    leaks.expect_clean(
        {pid}, {c == bounded_subprocess::Containment::process_group ? static_cast<pid_t>(grandchild) : pid});
  }
}

TEST(InteractiveMisbehave, WholeGroupIsKilledWhenTheLeaderIsKilled) {
  bs_test::NoLeaks leaks;
  Interactive proc({helper(), "fork-storm", "3"});
  const pid_t pid = proc.pid();
  std::string text;
  for (int i = 0; i < 5; ++i) text += proc.read_line(10s).value_or("") + "\n";
  const auto children = bs_test::all_fields_after(text, "child");
  EXPECT_EQ(children.size(), 3u) << text;
  EXPECT_EQ(proc.close(100ms), -9);
  leaks.expect_clean({pid}, children);
}

TEST(InteractiveMisbehave, DestructorKillsTheGroupToo) {
  bs_test::NoLeaks leaks;
  pid_t pid;
  long grandchild;
  {
    Interactive proc({helper(), "fork-grandchild-sleep"});
    pid = proc.pid();
    proc.read_line(10s);
    grandchild = bs_test::field_after(proc.read_line(10s).value_or(""), "grandchild");
    ASSERT_GT(grandchild, 0);
  }
  leaks.expect_clean({pid}, {static_cast<pid_t>(grandchild)});
}
