// CaptureBuffer against a reference model: keep everything, then cut.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/capture_buffer.hpp"

namespace {

using bounded_subprocess::detail::CaptureBuffer;

std::string expected(const std::string& all, std::size_t limit, bool tail) {
  if (all.size() <= limit) return all;
  return tail ? all.substr(all.size() - limit) : all.substr(0, limit);
}

TEST(CaptureBuffer, MatchesReferenceForRandomChunkings) {
  std::mt19937 rng(12345);
  for (bool tail : {false, true}) {
    for (std::size_t limit : {0u, 1u, 7u, 64u, 1000u}) {
      for (int trial = 0; trial < 200; ++trial) {
        CaptureBuffer buf(limit, tail);
        std::string all;
        const int chunks = static_cast<int>(rng() % 12);
        for (int c = 0; c < chunks; ++c) {
          std::string chunk(rng() % (2 * limit + 3), '\0');
          for (auto& ch : chunk) ch = static_cast<char>(rng() % 256);
          all += chunk;
          buf.append(chunk);
        }
        const auto cap = buf.take();
        ASSERT_EQ(cap.data, expected(all, limit, tail)) << "limit " << limit << " tail " << tail;
        ASSERT_EQ(cap.total_bytes, all.size());
        ASSERT_EQ(cap.truncated, all.size() > limit);
      }
    }
  }
}

TEST(CaptureBuffer, PrefixReportsFullAndCountsDiscardedBytes) {
  CaptureBuffer buf(4, false);
  buf.append("ab");
  EXPECT_FALSE(buf.full());
  buf.append("cdef");
  EXPECT_TRUE(buf.full());
  buf.count_discarded(100);
  const auto cap = buf.take();
  EXPECT_EQ(cap.data, "abcd");
  EXPECT_EQ(cap.total_bytes, 106u);
  EXPECT_TRUE(cap.truncated);
}

TEST(CaptureBuffer, TailIsNeverFull) {
  CaptureBuffer buf(2, true);
  buf.append("abcdef");
  EXPECT_FALSE(buf.full());
  EXPECT_EQ(buf.take().data, "ef");
}

}  // namespace

namespace {

// Memory follows the bytes seen: a bound of 1 TiB must not be allocated.
TEST(CaptureBuffer, HugeBoundCostsOnlyWhatArrives) {
  for (bool tail : {false, true}) {
    CaptureBuffer buf(std::size_t{1} << 40, tail);
    buf.append("abc");
    buf.append("def");
    const auto cap = buf.take();
    EXPECT_EQ(cap.data, "abcdef");
    EXPECT_FALSE(cap.truncated);
  }
}

}  // namespace
