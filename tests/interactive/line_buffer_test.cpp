// Unit tests of the line splitter that both Interactive faces use.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "engine/line_buffer.hpp"

using bounded_subprocess::detail::LineBuffer;

TEST(LineBuffer, SplitsLinesAcrossChunks) {
  LineBuffer b(100);
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

TEST(LineBuffer, CapsPendingLineKeepingNewestBytes) {
  LineBuffer b(4);
  b.append("abcdefgh");
  EXPECT_EQ(b.pending_size(), 4u);
  EXPECT_EQ(b.dropped(), 4u);
  b.append("ij\n");
  EXPECT_EQ(b.pop_line().value(), "ghij");
  EXPECT_EQ(b.dropped(), 6u);
}

TEST(LineBuffer, CapAppliesToLineCompletedInOneChunk) {
  LineBuffer b(3);
  b.append("123456\nab\nxyzw\n");
  EXPECT_EQ(b.pop_line().value(), "456");
  EXPECT_EQ(b.pop_line().value(), "ab");
  EXPECT_EQ(b.pop_line().value(), "yzw");
}

TEST(LineBuffer, CapByteByByte) {
  LineBuffer b(5);
  const std::string text = "the quick brown fox";
  for (char c : text) b.append(std::string(1, c));
  EXPECT_LE(b.pending_size(), 5u);
  b.append("\n");
  EXPECT_EQ(b.pop_line().value(), "n fox");  // the last 5 bytes
}

TEST(LineBuffer, ClearDropsPartialAndLines) {
  LineBuffer b(10);
  b.append("a\nb\npartial");
  b.clear();
  EXPECT_FALSE(b.has_line());
  EXPECT_EQ(b.pending_size(), 0u);
}

TEST(LineBuffer, ZeroCapIsRejected) {
  EXPECT_THROW(LineBuffer(0), std::invalid_argument);
}
