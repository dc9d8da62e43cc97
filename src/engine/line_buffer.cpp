#include "engine/line_buffer.hpp"

#include <stdexcept>
#include <utility>

namespace bounded_subprocess::detail {

LineBuffer::LineBuffer(std::size_t max_pending) : max_pending_(max_pending) {
  if (max_pending_ == 0) throw std::invalid_argument("max_line_size must be at least 1");
}

void LineBuffer::add_to_partial(std::string_view segment) {
  if (segment.size() >= max_pending_) {
    // The segment alone fills the cap: keep only its newest bytes.
    dropped_ += partial_.size() + (segment.size() - max_pending_);
    partial_.assign(segment.substr(segment.size() - max_pending_));
    return;
  }
  partial_.append(segment);
  if (partial_.size() > max_pending_) {
    const std::size_t excess = partial_.size() - max_pending_;
    partial_.erase(0, excess);
    dropped_ += excess;
  }
}

void LineBuffer::append(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    add_to_partial(bytes.substr(0, nl));
    if (nl == std::string_view::npos) return;
    lines_.push_back(std::move(partial_));
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

std::optional<std::string> LineBuffer::pop_line() {
  if (lines_.empty()) return std::nullopt;
  std::string line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

void LineBuffer::clear() noexcept {
  lines_.clear();
  partial_.clear();
}

}  // namespace bounded_subprocess::detail
