#include "engine/capture_buffer.hpp"

#include <algorithm>

namespace bounded_subprocess::detail {

// Memory follows the bytes seen, never the bound: a quiet child with a huge
// bound costs nothing. The tail becomes a ring only once it is full.
CaptureBuffer::CaptureBuffer(std::size_t limit, bool tail) : limit_(limit), tail_(tail) {}

void CaptureBuffer::append(std::string_view bytes) {
  total_ += bytes.size();
  if (limit_ == 0 || bytes.empty()) return;
  if (!tail_) {
    const std::size_t room = limit_ - kept_;
    const std::size_t n = std::min(room, bytes.size());
    buf_.append(bytes.data(), n);
    kept_ += n;
    return;
  }
  // Tail: only the last `limit_` bytes of this chunk can survive.
  if (bytes.size() >= limit_) {
    bytes.remove_prefix(bytes.size() - limit_);
    buf_.assign(bytes.data(), bytes.size());
    head_ = 0;
    kept_ = limit_;
    return;
  }
  if (kept_ + bytes.size() <= limit_ && head_ == 0) {
    buf_.append(bytes.data(), bytes.size());  // not full yet: plain growth
    kept_ += bytes.size();
    return;
  }
  buf_.resize(limit_);  // from here on a ring of exactly `limit_` bytes
  // Write at the slot after the newest byte, wrapping around.
  std::size_t write_at = (head_ + kept_) % limit_;
  const std::size_t first = std::min(bytes.size(), limit_ - write_at);
  std::copy_n(bytes.data(), first, buf_.begin() + static_cast<std::ptrdiff_t>(write_at));
  std::copy_n(bytes.data() + first, bytes.size() - first, buf_.begin());
  const std::size_t overflow = kept_ + bytes.size() > limit_ ? kept_ + bytes.size() - limit_ : 0;
  kept_ += bytes.size() - overflow;
  head_ = (head_ + overflow) % limit_;
}

Capture CaptureBuffer::take() {
  Capture c;
  c.total_bytes = total_;
  c.truncated = total_ > kept_;
  if (!tail_ || head_ == 0) {
    buf_.resize(kept_);
    c.data = std::move(buf_);
  } else {
    c.data.reserve(kept_);
    const std::size_t first = std::min(kept_, limit_ - head_);
    c.data.append(buf_, head_, first);
    c.data.append(buf_, 0, kept_ - first);
  }
  buf_.clear();
  kept_ = head_ = 0;
  return c;
}

}  // namespace bounded_subprocess::detail
