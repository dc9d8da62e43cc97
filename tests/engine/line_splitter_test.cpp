// Unit tests of the one line splitter (line streams and both Interactive
// entry points): splitting, the cap on a line, and the two ends of a stream.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/line_splitter.hpp"

using bounded_subprocess::detail::FinalLine;
using bounded_subprocess::detail::LineSplitter;

TEST(LineSplitter, SplitsLinesAcrossChunks) {
  LineSplitter b(100);
  b.append("he");
  EXPECT_FALSE(b.pop_line().has_value());
  b.append("llo\nwor");
  EXPECT_EQ(b.pop_line().value(), "hello");
  EXPECT_FALSE(b.pop_line().has_value());
  EXPECT_EQ(b.pending_size(), 3u);
  b.append("ld\n\nlast\n");
  EXPECT_EQ(b.pop_line().value(), "world");
  EXPECT_EQ(b.pop_line().value(), "");
  EXPECT_EQ(b.pop_line().value(), "last");
  EXPECT_FALSE(b.has_line());
  EXPECT_EQ(b.pending_size(), 0u);
}

TEST(LineSplitter, CapsPendingLineKeepingNewestBytes) {
  LineSplitter b(4);
  b.append("abcdefgh");
  EXPECT_EQ(b.pending_size(), 4u);
  EXPECT_EQ(b.dropped(), 4u);
  b.append("ij\n");
  EXPECT_EQ(b.pop_line().value(), "ghij");
  EXPECT_EQ(b.dropped(), 6u);
}

TEST(LineSplitter, CapAppliesToLineCompletedInOneChunk) {
  LineSplitter b(3);
  b.append("123456\nab\nxyzw\n");
  EXPECT_EQ(b.pop_line().value(), "456");
  EXPECT_EQ(b.pop_line().value(), "ab");
  EXPECT_EQ(b.pop_line().value(), "yzw");
}

TEST(LineSplitter, CapByteByByte) {
  LineSplitter b(5);
  const std::string text = "the quick brown fox";
  for (char c : text) b.append(std::string(1, c));
  EXPECT_LE(b.pending_size(), 5u);
  b.append("\n");
  EXPECT_EQ(b.pop_line().value(), "n fox");  // the last 5 bytes
}

TEST(LineSplitter, ClearDropsPartialAndLines) {
  LineSplitter b(10);
  b.append("a\nb\npartial");
  b.clear();
  EXPECT_FALSE(b.has_line());
  EXPECT_EQ(b.pending_size(), 0u);
}

TEST(LineSplitter, ZeroCapIsRejected) {
  EXPECT_THROW(LineSplitter(0), std::invalid_argument);
}

TEST(LineSplitter, EndKeepsFinalLineWithoutNewline) {
  LineSplitter b(100);
  b.append("one\ntwo");
  EXPECT_EQ(b.pop_line().value(), "one");
  EXPECT_FALSE(b.has_line());
  b.end(FinalLine::keep);
  EXPECT_EQ(b.pop_line().value(), "two");
  EXPECT_FALSE(b.has_line());
  EXPECT_EQ(b.pending_size(), 0u);
  EXPECT_FALSE(b.truncated());
}

TEST(LineSplitter, EndDropsFinalLineWithoutNewline) {
  LineSplitter b(100);
  b.append("one\ntwo");
  b.end(FinalLine::drop);
  EXPECT_EQ(b.pop_line().value(), "one");  // complete lines stay
  EXPECT_FALSE(b.pop_line().has_value());
  EXPECT_EQ(b.pending_size(), 0u);
}

TEST(LineSplitter, EndAddsNoLineAfterTrailingNewline) {
  for (FinalLine f : {FinalLine::keep, FinalLine::drop}) {
    LineSplitter b(100);
    b.append("one\n");
    b.end(f);
    EXPECT_EQ(b.pop_line().value(), "one");
    EXPECT_FALSE(b.pop_line().has_value());
  }
  LineSplitter empty(100);
  empty.end(FinalLine::keep);
  EXPECT_FALSE(empty.has_line());
}

TEST(LineSplitter, EndKeepsCappedFinalLine) {
  LineSplitter b(3);
  b.append("abcdef");
  b.end(FinalLine::keep);
  EXPECT_EQ(b.pop_line().value(), "def");
  EXPECT_TRUE(b.truncated());
  EXPECT_EQ(b.dropped(), 3u);
}

TEST(LineSplitter, LineOfExactlyTheCapIsNotTruncated) {
  LineSplitter b(4);
  b.append("ab");
  b.append("cd\nwxyz\n");
  EXPECT_EQ(b.pop_line().value(), "abcd");
  EXPECT_EQ(b.pop_line().value(), "wxyz");
  EXPECT_FALSE(b.truncated());
  EXPECT_EQ(b.dropped(), 0u);
  b.append("12345\n");
  EXPECT_TRUE(b.truncated());
  EXPECT_EQ(b.dropped(), 1u);
}

TEST(LineSplitter, QueuedBytesFollowPushAndPop) {
  LineSplitter b(100);
  EXPECT_EQ(b.queued_bytes(), 0u);
  b.append("abc\nde\nf");
  EXPECT_EQ(b.queued_bytes(), 5u);  // "abc" + "de"; the pending "f" is not queued
  EXPECT_EQ(b.pop_line().value(), "abc");
  EXPECT_EQ(b.queued_bytes(), 2u);
  b.end(FinalLine::keep);
  EXPECT_EQ(b.queued_bytes(), 3u);
  b.clear();
  EXPECT_EQ(b.queued_bytes(), 0u);
}

// The splitter against a plain model: split on '\n', keep each line's last
// `cap` bytes, count what was cut; for every chunking of the same bytes.
TEST(LineSplitter, MatchesModelForEveryChunkSize) {
  const std::string text = "a\n\nbbbbbbbbbb\nccc\ndddddddd\nee\nffffffffffffff";
  for (std::size_t cap : {1u, 2u, 3u, 7u, 20u}) {
    std::vector<std::string> want;
    std::uint64_t want_dropped = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t nl = text.find('\n', start);
      const std::size_t end = nl == std::string::npos ? text.size() : nl;
      std::string line = text.substr(start, end - start);
      if (line.size() > cap) {
        want_dropped += line.size() - cap;
        line.erase(0, line.size() - cap);
      }
      if (nl != std::string::npos || !line.empty()) want.push_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
      LineSplitter b(cap);
      for (std::size_t i = 0; i < text.size(); i += chunk) b.append(std::string_view(text).substr(i, chunk));
      b.end(FinalLine::keep);
      std::vector<std::string> got;
      while (auto line = b.pop_line()) got.push_back(*line);
      EXPECT_EQ(got, want) << "cap " << cap << ", chunk " << chunk;
      EXPECT_EQ(b.dropped(), want_dropped) << "cap " << cap << ", chunk " << chunk;
      EXPECT_EQ(b.truncated(), want_dropped > 0);
    }
  }
}
