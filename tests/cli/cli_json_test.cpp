// bounded-run --json: the fields, their types and their values.
#include <signal.h>

#include <gtest/gtest.h>

#include <string>

#include "cli_test_support.hpp"

namespace {

using bs_test::misbehave;
using cli_test::bounded_run;
using cli_test::parse_json;

TEST(CliJson, EveryFieldHasItsType) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", "--", misbehave(), "out-err", "hello", "oops"});
  EXPECT_EQ(inv.status, 0) << inv.err;
  EXPECT_EQ(inv.err, "");
  auto j = parse_json(inv);
  for (const char* key : {"exit_code", "signal", "stdout_total_bytes", "stderr_total_bytes", "max_rss_kb"}) {
    EXPECT_TRUE(j.contains(key) && j[key].is_number_integer()) << key << " in " << inv.out;
  }
  for (const char* key :
       {"timeout", "memory_limit_exceeded", "stdin_write_failed", "stdout_truncated", "stderr_truncated"}) {
    EXPECT_TRUE(j.contains(key) && j[key].is_boolean()) << key << " in " << inv.out;
  }
  for (const char* key : {"stdout", "stderr", "reason"}) {
    EXPECT_TRUE(j.contains(key) && j[key].is_string()) << key << " in " << inv.out;
  }
  for (const char* key : {"elapsed_seconds", "user_cpu_seconds", "system_cpu_seconds"}) {
    EXPECT_TRUE(j.contains(key) && j[key].is_number()) << key << " in " << inv.out;
  }
  EXPECT_EQ(j.value("exit_code", -99), 0);
  EXPECT_EQ(j.value("stdout", ""), "hello");
  EXPECT_EQ(j.value("stderr", ""), "oops");
  EXPECT_EQ(j.value("reason", ""), "exited");
  EXPECT_EQ(j.value("signal", -1), 0);
  EXPECT_EQ(j.value("stdout_total_bytes", 0), 5);
  EXPECT_EQ(j.value("stderr_total_bytes", 0), 4);
  EXPECT_FALSE(j.value("timeout", true));
  EXPECT_FALSE(j.value("memory_limit_exceeded", true));
  EXPECT_FALSE(j.value("stdin_write_failed", true));
  EXPECT_FALSE(j.value("stdout_truncated", true));
  EXPECT_FALSE(j.value("stderr_truncated", true));
  EXPECT_GT(j.value("elapsed_seconds", -1.0), 0.0);
  EXPECT_LT(j.value("elapsed_seconds", 99.0), 30.0);
  EXPECT_GE(j.value("user_cpu_seconds", -1.0), 0.0);
  EXPECT_GE(j.value("system_cpu_seconds", -1.0), 0.0);
  EXPECT_GT(j.value("max_rss_kb", 0), 0);
  leaks.expect_clean();
}

TEST(CliJson, ExitCodeIsTheChildsAndCommandExitsZero) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", misbehave(), "exit", "7"});
  EXPECT_EQ(inv.status, 0);
  auto j = parse_json(inv);
  EXPECT_EQ(j.value("exit_code", -99), 7);
  EXPECT_EQ(j.value("reason", ""), "exited");
  leaks.expect_clean();
}

TEST(CliJson, TimeoutKillsTheGroup) {
  bs_test::NoLeaks leaks;
  // The shell prints its pgid, leaves a grandchild behind and sleeps.
  auto inv = bounded_run(
      {"--json", "--timeout", "0.5", "--", "/bin/sh", "-c", "echo pgid $$; sleep 300 & exec sleep 300"});
  EXPECT_EQ(inv.status, 0);
  auto j = parse_json(inv);
  EXPECT_TRUE(j.value("timeout", false)) << inv.out;
  EXPECT_EQ(j.value("exit_code", 0), -1);
  EXPECT_EQ(j.value("reason", ""), "timeout");
  EXPECT_GE(j.value("elapsed_seconds", 0.0), 0.45);
  EXPECT_LT(j.value("elapsed_seconds", 99.0), 5.0);  // generous: catches a hang only
  pid_t pgid = cli_test::inner_pgid(j.value("stdout", ""));
  leaks.expect_clean({pgid});
}

TEST(CliJson, SignalOfTheChild) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", misbehave(), "kill-self", std::to_string(SIGTERM)});
  EXPECT_EQ(inv.status, 0);
  auto j = parse_json(inv);
  EXPECT_EQ(j.value("exit_code", 0), -SIGTERM);
  EXPECT_EQ(j.value("signal", 0), SIGTERM);
  EXPECT_EQ(j.value("reason", ""), "signaled");
  EXPECT_FALSE(j.value("timeout", true));
  leaks.expect_clean();
}

TEST(CliJson, MaxOutputTruncatesAndCounts) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", "--max-output", "100", misbehave(), "flood-both", "10000"});
  auto j = parse_json(inv);
  EXPECT_EQ(j.value("stdout", ""), bs_test::misbehave_pattern(0, 100));
  EXPECT_EQ(j.value("stderr", ""), bs_test::misbehave_pattern(0, 100));
  EXPECT_TRUE(j.value("stdout_truncated", false));
  EXPECT_TRUE(j.value("stderr_truncated", false));
  EXPECT_EQ(j.value("stdout_total_bytes", 0), 10000);
  EXPECT_EQ(j.value("stderr_total_bytes", 0), 10000);
  EXPECT_EQ(j.value("exit_code", -99), 0);
  leaks.expect_clean();
}

TEST(CliJson, TailKeepsTheLastBytes) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", "--tail", "--max-output", "100", misbehave(), "flood-out", "10000"});
  auto j = parse_json(inv);
  EXPECT_EQ(j.value("stdout", ""), bs_test::misbehave_pattern(9900, 100));
  EXPECT_TRUE(j.value("stdout_truncated", false));
  EXPECT_EQ(j.value("stdout_total_bytes", 0), 10000);
  leaks.expect_clean();
}

TEST(CliJson, NotTruncatedAtExactlyTheBound) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", "--max-output", "100", misbehave(), "flood-out", "100"});
  auto j = parse_json(inv);
  EXPECT_EQ(j.value("stdout", ""), bs_test::misbehave_pattern(0, 100));
  EXPECT_FALSE(j.value("stdout_truncated", true));
  leaks.expect_clean();
}

TEST(CliJson, InvalidUtf8IsDropped) {
  bs_test::NoLeaks leaks;
  // binary-out writes bytes 0..255 twice: every byte >= 0x80 is invalid there
  // (no lead byte is followed by a continuation byte), the ASCII half stays.
  auto inv = bounded_run({"--json", "--max-output", "4096", misbehave(), "binary-out"});
  auto j = parse_json(inv);
  std::string ascii;
  for (int i = 0; i < 128; ++i) ascii.push_back(static_cast<char>(i));
  EXPECT_EQ(j.value("stdout", ""), ascii + ascii);
  EXPECT_EQ(j.value("stdout_total_bytes", 0), 512);
  leaks.expect_clean();
}

TEST(CliJson, BrokenSequencesDropOnlyTheirOwnBytes) {
  bs_test::NoLeaks leaks;
  // "a", a valid euro sign, "b", a stray 0xFF, "c", a cut 3-byte sequence
  // followed by "d", an overlong "/" (C0 AF), a surrogate (ED A0 80), then a
  // valid 4-byte character.
  const std::string data =
      "a\xE2\x82\xAC"
      "b\xFF"
      "c\xE2\x82"
      "d\xC0\xAF\xED\xA0\x80\xF0\x9F\x98\x80";
  auto inv = bounded_run({"--json", "--stdin-data", data, "--", "cat"});
  auto j = parse_json(inv);
  EXPECT_EQ(j.value("stdout", ""),
            "a\xE2\x82\xAC"
            "bcd\xF0\x9F\x98\x80");
  EXPECT_EQ(j.value("stdout_total_bytes", 0), static_cast<int>(data.size()));
  leaks.expect_clean();
}

TEST(CliJson, MemoryLimitKillsTheGroup) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", "--timeout", "20", "--memory-limit-mb", "64", "--memory-interval", "0.05",
                          misbehave(), "alloc-mb", "400"});
  EXPECT_EQ(inv.status, 0);
  auto j = parse_json(inv);
  EXPECT_TRUE(j.value("memory_limit_exceeded", false)) << inv.out;
  EXPECT_FALSE(j.value("timeout", true));
  EXPECT_EQ(j.value("exit_code", 0), -1);
  EXPECT_EQ(j.value("reason", ""), "memory_limit");
  leaks.expect_clean();
}

TEST(CliJson, StdinWriteFailedWhenTheChildDoesNotRead) {
  bs_test::NoLeaks leaks;
  // 1 MiB cannot fit in a pipe; the child exits without reading it.
  cli_test::TempFile big(std::string(1 << 20, 'x'));
  auto inv = bounded_run({"--json", "--stdin-file", big.path(), misbehave(), "exit", "0"});
  EXPECT_EQ(inv.status, 0);
  auto j = parse_json(inv);
  EXPECT_TRUE(j.value("stdin_write_failed", false)) << inv.out;
  EXPECT_EQ(j.value("exit_code", 0), -1);
  EXPECT_FALSE(j.value("timeout", true));
  leaks.expect_clean();
}

// The example the README shows: a child that floods its output and leaves a
// grandchild, bounded to 1 s and 64 bytes.
TEST(CliJson, ReadmeExampleFloodAndGrandchild) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", "--timeout", "1", "--max-output", "64", "--", "sh", "-c",
                          "echo pgid $$; sleep 300 & yes flood"});
  EXPECT_EQ(inv.status, 0) << inv.err;
  auto j = parse_json(inv);
  EXPECT_TRUE(j.value("timeout", false));
  EXPECT_EQ(j.value("exit_code", 0), -1);
  const std::string out = j.value("stdout", "");
  EXPECT_EQ(out.size(), 64u);
  EXPECT_TRUE(j.value("stdout_truncated", false));
  EXPECT_GT(j.value("stdout_total_bytes", 0LL), 64LL);
  EXPECT_LT(j.value("elapsed_seconds", 99.0), 5.0);
  leaks.expect_clean({cli_test::inner_pgid(out)});
}

// The original Python library's edge case, gone: the direct child exits while a grandchild
// holds the pipes; the run ends at once and the grandchild is killed.
TEST(CliJson, DirectChildExitEndsTheRunDespiteAGrandchild) {
  bs_test::NoLeaks leaks;
  auto inv =
      bounded_run({"--json", "--timeout", "30", "--", "sh", "-c", "echo pgid $$; (sleep 300; echo late) &"});
  auto j = parse_json(inv);
  EXPECT_FALSE(j.value("timeout", true));
  EXPECT_EQ(j.value("exit_code", -99), 0);
  EXPECT_LT(j.value("elapsed_seconds", 99.0), 10.0);
  leaks.expect_clean({cli_test::inner_pgid(j.value("stdout", ""))});
}

}  // namespace
