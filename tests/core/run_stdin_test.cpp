// Core tests of run(): stdin_data, /dev/null stdin, big inputs without
// deadlock, incomplete writes, and no SIGPIPE in the host.
#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;
using bs_test::misbehave_pattern;

namespace {

constexpr std::size_t kBig = 8u * 1024 * 1024;

TEST(RunStdin, StdinDataIsEchoed) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "echo-stdin"}, {.stdin_data = "hello\nworld\n"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, "hello\nworld\n");
  EXPECT_FALSE(r.stdin_write_failed);
  leaks.expect_clean();
}

TEST(RunStdin, BinaryStdinIsPassedRaw) {
  bs_test::NoLeaks leaks;
  std::string data("a\0b\0\xff\n", 6);
  bs::Result r = bs::run({misbehave(), "echo-stdin"}, {.stdin_data = data});
  EXPECT_EQ(r.out.data, data);
  EXPECT_FALSE(r.stdin_write_failed);
  leaks.expect_clean();
}

TEST(RunStdin, AbsentStdinIsDevNull) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "read-stdin-count"}, {.timeout = 5s});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.timeout) << "stdin must not be left open";
  EXPECT_EQ(r.out.data, "0\n");
  EXPECT_FALSE(r.stdin_write_failed);
  leaks.expect_clean();
}

TEST(RunStdin, EmptyStdinDataGivesEof) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "read-stdin-count"}, {.timeout = 5s, .stdin_data = ""});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.timeout);
  EXPECT_EQ(r.out.data, "0\n");
  EXPECT_FALSE(r.stdin_write_failed);
  leaks.expect_clean();
}

TEST(RunStdin, BigStdinIsCountedWhole) {
  bs_test::NoLeaks leaks;
  bs::Result r =
      bs::run({misbehave(), "read-stdin-count"}, {.timeout = 90s, .stdin_data = std::string(kBig, 'z')});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, std::to_string(kBig) + "\n");
  EXPECT_FALSE(r.stdin_write_failed);
  leaks.expect_clean();
}

TEST(RunStdin, BigStdinAndBigStdoutDoNotDeadlock) {
  // echo-stdin writes as it reads: writing all of stdin before reading
  // stdout would block both sides once the pipes fill.
  bs_test::NoLeaks leaks;
  std::string input = misbehave_pattern(0, kBig);
  bs::Result r = bs::run({misbehave(), "echo-stdin"},
                         {.timeout = 90s, .max_output_size = 4096, .tail = true, .stdin_data = input});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.timeout);
  EXPECT_FALSE(r.stdin_write_failed);
  EXPECT_EQ(r.out.total_bytes, kBig);
  EXPECT_EQ(r.out.data, misbehave_pattern(kBig - 4096, 4096));
  EXPECT_LT(r.elapsed, 90s);
  leaks.expect_clean();
}

TEST(RunStdin, ChildThatNeverReadsButWritesALotDoesNotDeadlock) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "ignore-stdin-flood-out", std::to_string(kBig)},
                         {.timeout = 90s, .stdin_data = std::string(kBig, 'i')});
  EXPECT_FALSE(r.timeout) << r;
  EXPECT_EQ(r.out.total_bytes, kBig) << "all of stdout was drained while stdin was pending";
  EXPECT_LT(r.elapsed, 90s);
  // The child exited without reading 8 MiB: the write could not complete.
  EXPECT_TRUE(r.stdin_write_failed);
  EXPECT_EQ(r.exit_code, -1);
  leaks.expect_clean();
}

TEST(RunStdin, StdinTimeoutMarksFailureEvenIfChildExitsZero) {
  bs_test::NoLeaks leaks;
  // The child reads nothing until its stdin is closed (or 60 s have passed),
  // then reads what there is and exits 0 by itself, well before the run's
  // deadline: only the stdin bound (0.2 s) can leave the 8 MiB unwritten.
  bs::Result r = bs::run({misbehave(), "read-stdin-late", "60000"},
                         {.timeout = 90s, .stdin_data = std::string(kBig, 's'), .stdin_write_timeout = 0.2s});
  EXPECT_TRUE(r.stdin_write_failed) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.reason, bs::EndReason::exited) << "the child exited by itself";
  EXPECT_FALSE(r.timeout);
  EXPECT_FALSE(r.memory_limit_exceeded);
  EXPECT_LT(std::stoull("0" + r.out.data), kBig) << "the child read all of stdin: " << r.out.data;
  EXPECT_GE(r.elapsed, 0.19s);
  EXPECT_LT(r.elapsed, 45s) << "stdin was not closed at its bound";
  leaks.expect_clean();
}

TEST(RunStdin, ChildExitingWithoutReadingMarksFailure) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "exit", "0"}, {.timeout = 10s, .stdin_data = std::string(kBig, 'e')});
  EXPECT_TRUE(r.stdin_write_failed) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.timeout);
  EXPECT_LT(r.elapsed, 8s) << "must not wait for the stdin timeout";
  leaks.expect_clean();
}

TEST(RunStdin, ChildClosingStdinMarksFailure) {
  bs_test::NoLeaks leaks;
  bs::Result r =
      bs::run({misbehave(), "close-stdin-sleep"}, {.timeout = 2s, .stdin_data = std::string(kBig, 'c')});
  EXPECT_TRUE(r.stdin_write_failed) << r;
  EXPECT_EQ(r.out.data, "closed\n");
  EXPECT_TRUE(r.timeout);
  EXPECT_EQ(r.exit_code, -1);
  leaks.expect_clean();
}

TEST(RunStdin, TheRunDeadlineBoundsTheStdinPhase) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "sleep-forever"},
                         {.timeout = 0.5s, .stdin_data = std::string(kBig, 'd'), .stdin_write_timeout = 15s});
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(r.elapsed, 3s) << "the stdin timeout must not extend the run deadline";
  leaks.expect_clean();
}

TEST(RunStdin, NoSigpipeReachesTheHostAndDispositionIsUntouched) {
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &before), 0);
  ASSERT_EQ(before.sa_handler, SIG_DFL) << "the test needs the default SIGPIPE disposition";
  sigset_t mask_before, mask_after;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask_before), 0);
  bs_test::NoLeaks leaks;
  for (int i = 0; i < 10; ++i) {
    // The child is gone while 1 MiB is still to be written: EPIPE, which
    // with the default disposition would kill this test process.
    bs::Result r = bs::run({misbehave(), i % 2 ? "exit" : "kill-self", i % 2 ? "0" : "9"},
                           {.stdin_data = std::string(1u << 20, 'p')});
    EXPECT_TRUE(r.stdin_write_failed) << r;
  }
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, SIG_DFL) << "run changed the host's SIGPIPE disposition";
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask_after), 0);
  EXPECT_EQ(::sigismember(&mask_after, SIGPIPE), ::sigismember(&mask_before, SIGPIPE))
      << "run left the signal mask changed";
  sigset_t pending;
  ASSERT_EQ(::sigpending(&pending), 0);
  EXPECT_EQ(::sigismember(&pending, SIGPIPE), 0) << "a SIGPIPE was left pending";
  leaks.expect_clean();
}

}  // namespace
