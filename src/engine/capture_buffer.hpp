// The bounded capture buffer: keeps the first N bytes (prefix) or the last N
// bytes (ring) of a stream, and counts everything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::detail {

class CaptureBuffer {
 public:
  CaptureBuffer(std::size_t limit, bool tail);

  /// Offers bytes; keeps what the bound allows.
  void append(std::string_view bytes);
  /// Counts bytes that were thrown away without being offered (splice to
  /// /dev/null once a prefix is full).
  void count_discarded(std::uint64_t n) noexcept { total_ += n; }
  /// True once nothing more would be kept: later bytes can be discarded
  /// without reaching user space. Never true in tail mode.
  bool full() const noexcept { return !tail_ && kept_ >= limit_; }

  std::uint64_t total() const noexcept { return total_; }
  /// The kept bytes in stream order, and whether any were dropped.
  Capture take();

 private:
  std::size_t limit_;
  bool tail_;
  std::string buf_;       // prefix: the kept bytes; tail: ring storage of size limit_
  std::size_t kept_ = 0;  // bytes held in buf_
  std::size_t head_ = 0;  // tail mode: index of the oldest byte
  std::uint64_t total_ = 0;
};

}  // namespace bounded_subprocess::detail
