// bounded-run without --json: like coreutils `timeout`, the captured bytes on
// its own stdout/stderr and the child's status (124, 128+N, 137, 255).
#include <signal.h>

#include <gtest/gtest.h>

#include <string>

#include "cli_test_support.hpp"

namespace {

using cli_test::bounded_run;
using bs_test::misbehave;

TEST(CliStatus, ExitStatusPassesThrough) {
  for (int code : {0, 1, 3, 42, 255}) {
    bs_test::NoLeaks leaks;
    auto inv = bounded_run({misbehave(), "exit", std::to_string(code)});
    EXPECT_EQ(inv.status, code);
    EXPECT_EQ(inv.out, "");
    EXPECT_EQ(inv.err, "");
    leaks.expect_clean();
  }
}

TEST(CliStatus, StdoutAndStderrBytesPassThrough) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({misbehave(), "out-err", "to out", "to err"});
  EXPECT_EQ(inv.status, 0);
  EXPECT_EQ(inv.out, "to out");
  EXPECT_EQ(inv.err, "to err");
  // Raw bytes, invalid UTF-8 included.
  auto bin = bounded_run({"--max-output", "4096", misbehave(), "binary-out"});
  EXPECT_EQ(bin.status, 0);
  std::string expected;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 256; ++i) expected.push_back(static_cast<char>(i));
  }
  EXPECT_EQ(bin.out, expected);
  leaks.expect_clean();
}

TEST(CliStatus, TimeoutIs124) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--timeout", "0.3", "--", "/bin/sh", "-c", "echo pgid $$; exec sleep 300"});
  EXPECT_EQ(inv.status, 124);
  EXPECT_LT(inv.result.elapsed.count(), 5.0);  // generous: catches a hang only
  // The output written before the deadline is passed through.
  leaks.expect_clean({cli_test::inner_pgid(inv.out)});
}

TEST(CliStatus, SignalIs128PlusN) {
  for (int sig : {SIGTERM, SIGINT, SIGSEGV}) {
    bs_test::NoLeaks leaks;
    auto inv = bounded_run({misbehave(), "kill-self", std::to_string(sig)});
    EXPECT_EQ(inv.status, 128 + sig) << "signal " << sig;
    leaks.expect_clean();
  }
}

TEST(CliStatus, MemoryKillIs137) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--memory-limit-mb", "64", "--memory-interval", "0.05", "--timeout", "20", misbehave(),
                          "fork-alloc-mb", "400"});
  EXPECT_EQ(inv.status, 137) << inv.err;
  leaks.expect_clean();
}

TEST(CliStatus, IncompleteStdinWriteIs255) {
  bs_test::NoLeaks leaks;
  cli_test::TempFile big(std::string(1 << 20, 'x'));
  auto inv = bounded_run({"--stdin-file", big.path(), misbehave(), "exit", "0"});
  EXPECT_EQ(inv.status, 255);
  leaks.expect_clean();
}

TEST(CliStatus, TruncatedOutputPassesThroughTheKeptBytes) {
  bs_test::NoLeaks leaks;
  auto head = bounded_run({"--max-output", "100", misbehave(), "flood-out", "100000"});
  EXPECT_EQ(head.status, 0);
  EXPECT_EQ(head.out, bs_test::misbehave_pattern(0, 100));
  auto tail = bounded_run({"--max-output", "100", "--tail", misbehave(), "flood-err", "100000"});
  EXPECT_EQ(tail.status, 0);
  EXPECT_EQ(tail.out, "");
  EXPECT_EQ(tail.err, bs_test::misbehave_pattern(99900, 100));
  auto none = bounded_run({"--max-output", "0", misbehave(), "out-err", "x", "y"});
  EXPECT_EQ(none.status, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "");
  leaks.expect_clean();
}

}  // namespace
