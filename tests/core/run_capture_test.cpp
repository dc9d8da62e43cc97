// Core tests of run(): bounded capture (prefix, tail, truncation flags,
// total_bytes, raw bytes, endless output).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;
using bs_test::misbehave_pattern;

namespace {

TEST(RunCapture, PrefixKeepsTheFirstBytes) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "flood-out", "100000"}, {.max_output_size = 1000});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, misbehave_pattern(0, 1000));
  EXPECT_TRUE(r.out.truncated);
  EXPECT_EQ(r.out.total_bytes, 100000u);
  EXPECT_EQ(r.err.data, "");
  EXPECT_FALSE(r.err.truncated);
  EXPECT_EQ(r.err.total_bytes, 0u);
  leaks.expect_clean();
}

TEST(RunCapture, TailKeepsTheLastBytes) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "flood-out", "100000"}, {.max_output_size = 1000, .tail = true});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, misbehave_pattern(99000, 1000));
  EXPECT_TRUE(r.out.truncated);
  EXPECT_EQ(r.out.total_bytes, 100000u);
  leaks.expect_clean();
}

TEST(RunCapture, TailOverManyReadsOfABigStream) {
  // 3 MiB through a ring of 100000 bytes: wraps many times, at odd offsets.
  bs_test::NoLeaks leaks;
  const unsigned long long total = 3ull * 1024 * 1024 + 17;
  bs::Result r =
      bs::run({misbehave(), "flood-out", std::to_string(total)}, {.max_output_size = 100000, .tail = true});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.total_bytes, total);
  EXPECT_TRUE(r.out.truncated);
  ASSERT_EQ(r.out.data.size(), 100000u);
  EXPECT_TRUE(r.out.data == misbehave_pattern(total - 100000, 100000));
  leaks.expect_clean();
}

TEST(RunCapture, StderrIsBoundedTheSameWay) {
  bs_test::NoLeaks leaks;
  bs::Result p = bs::run({misbehave(), "flood-err", "5000"}, {.max_output_size = 100});
  EXPECT_EQ(p.err.data, misbehave_pattern(0, 100));
  EXPECT_TRUE(p.err.truncated);
  EXPECT_EQ(p.err.total_bytes, 5000u);
  EXPECT_EQ(p.out.total_bytes, 0u);
  bs::Result t = bs::run({misbehave(), "flood-err", "5000"}, {.max_output_size = 100, .tail = true});
  EXPECT_EQ(t.err.data, misbehave_pattern(4900, 100));
  bs::Result both = bs::run({misbehave(), "flood-both", "300000"}, {.max_output_size = 64});
  EXPECT_EQ(both.out.data, misbehave_pattern(0, 64));
  EXPECT_EQ(both.err.data, misbehave_pattern(0, 64));
  EXPECT_EQ(both.out.total_bytes, 300000u);
  EXPECT_EQ(both.err.total_bytes, 300000u);
  leaks.expect_clean();
}

TEST(RunCapture, OutputOfExactlyTheBoundIsNotTruncated) {
  bs_test::NoLeaks leaks;
  for (bool tail : {false, true}) {
    bs::Result r = bs::run({misbehave(), "flood-out", "1000"}, {.max_output_size = 1000, .tail = tail});
    EXPECT_EQ(r.out.data, misbehave_pattern(0, 1000)) << "tail=" << tail;
    EXPECT_FALSE(r.out.truncated) << "tail=" << tail;
    EXPECT_EQ(r.out.total_bytes, 1000u);
    bs::Result s = bs::run({misbehave(), "flood-out", "1001"}, {.max_output_size = 1000, .tail = tail});
    EXPECT_TRUE(s.out.truncated) << "tail=" << tail;
    EXPECT_EQ(s.out.data, misbehave_pattern(tail ? 1 : 0, 1000));
  }
  leaks.expect_clean();
}

TEST(RunCapture, ShortOutputIsKeptWholeWithTail) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "out-err", "abc", "de"}, {.tail = true});
  EXPECT_EQ(r.out.data, "abc");
  EXPECT_EQ(r.err.data, "de");
  EXPECT_FALSE(r.out.truncated);
  leaks.expect_clean();
}

TEST(RunCapture, DefaultBoundIs2048) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "flood-out", "10000"});
  EXPECT_EQ(r.out.data, misbehave_pattern(0, 2048));
  EXPECT_TRUE(r.out.truncated);
  leaks.expect_clean();
}

TEST(RunCapture, ZeroBoundKeepsNothingButCounts) {
  bs_test::NoLeaks leaks;
  for (bool tail : {false, true}) {
    bs::Result r = bs::run({misbehave(), "flood-out", "5000"}, {.max_output_size = 0, .tail = tail});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out.data, "");
    EXPECT_TRUE(r.out.truncated);
    EXPECT_EQ(r.out.total_bytes, 5000u);
  }
  bs::Result quiet = bs::run({misbehave(), "exit", "0"}, {.max_output_size = 0});
  EXPECT_FALSE(quiet.out.truncated) << "nothing produced, nothing truncated";
  EXPECT_EQ(quiet.out.total_bytes, 0u);
  leaks.expect_clean();
}

TEST(RunCapture, BinaryBytesAreKeptRaw) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "binary-out"});
  ASSERT_EQ(r.out.data.size(), 512u);
  for (int i = 0; i < 512; ++i) {
    ASSERT_EQ(static_cast<unsigned char>(r.out.data[static_cast<std::size_t>(i)]), i % 256) << "byte " << i;
  }
  bs::Result t = bs::run({misbehave(), "binary-out"}, {.max_output_size = 10, .tail = true});
  ASSERT_EQ(t.out.data.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(t.out.data[9]), 255);
  EXPECT_EQ(static_cast<unsigned char>(t.out.data[0]), 246);
  leaks.expect_clean();
}

TEST(RunCapture, LongLineIsBounded) {
  bs_test::NoLeaks leaks;
  bs::Result r = bs::run({misbehave(), "long-line", "10000000"}, {.timeout = 90s});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.data, std::string(2048, 'x'));
  EXPECT_EQ(r.out.total_bytes, 10000001u);
  bs::Result t = bs::run({misbehave(), "long-line", "10000000"}, {.timeout = 90s, .tail = true});
  EXPECT_EQ(t.out.data, std::string(2047, 'x') + "\n");
  leaks.expect_clean();
}

TEST(RunCapture, EndlessOutputIsBoundedAndTimesOut) {
  bs_test::NoLeaks leaks;
  // The deadlines leave a loaded machine time to start the child and let it
  // write: what is checked is what it wrote before them.
  for (const char* mode : {"flood-out", "flood-err"}) {
    bs::Result r = bs::run({misbehave(), mode, "forever"}, {.timeout = 2s});
    EXPECT_TRUE(r.timeout) << r;
    EXPECT_EQ(r.exit_code, -1);
    EXPECT_EQ(r.reason, bs::EndReason::timeout);
    const bs::Capture& c = std::string(mode) == "flood-out" ? r.out : r.err;
    EXPECT_EQ(c.data, misbehave_pattern(0, 2048));
    EXPECT_TRUE(c.truncated);
    EXPECT_GT(c.total_bytes, 2048u * 10) << "the pipe must be drained all along";
    EXPECT_LT(r.elapsed, 7s);
  }
  bs::Result n = bs::run({misbehave(), "write-forever-no-newline"},
                         {.timeout = 1s, .max_output_size = 100, .tail = true});
  EXPECT_TRUE(n.timeout);
  EXPECT_EQ(n.out.data, std::string(100, 'x'));
  EXPECT_TRUE(n.out.truncated);
  leaks.expect_clean();
}

TEST(RunCapture, BytesWrittenJustBeforeExitAreKept) {
  bs_test::NoLeaks leaks;
  // The run ends on the pidfd, but bytes already in the pipe must be read.
  for (int i = 0; i < 20; ++i) {
    bs::Result r = bs::run({misbehave(), "flood-both", "60000"}, {.max_output_size = 100000});
    ASSERT_EQ(r.out.total_bytes, 60000u) << "iteration " << i;
    ASSERT_EQ(r.err.total_bytes, 60000u) << "iteration " << i;
    ASSERT_TRUE(r.out.data == misbehave_pattern(0, 60000));
  }
  leaks.expect_clean();
}

}  // namespace
