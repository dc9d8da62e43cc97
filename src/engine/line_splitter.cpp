#include "engine/line_splitter.hpp"

#include <stdexcept>
#include <utility>

namespace bounded_subprocess::detail {

LineSplitter::LineSplitter(std::size_t max_line) : max_line_(max_line) {
  if (max_line_ == 0) throw std::invalid_argument("max_line_size must be at least 1");
}

void LineSplitter::add_to_partial(std::string_view segment) {
  if (segment.size() >= max_line_) {
    // The segment alone fills the cap: keep only its newest bytes.
    dropped_ += partial_.size() + (segment.size() - max_line_);
    partial_.assign(segment.substr(segment.size() - max_line_));
    return;
  }
  partial_.append(segment);
  if (partial_.size() > max_line_) {
    const std::size_t excess = partial_.size() - max_line_;
    partial_.erase(0, excess);
    dropped_ += excess;
  }
}

void LineSplitter::push_partial() {
  queued_bytes_ += partial_.size();
  lines_.push_back(std::move(partial_));
  partial_.clear();
}

void LineSplitter::append(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    add_to_partial(bytes.substr(0, nl));
    if (nl == std::string_view::npos) return;
    push_partial();
    bytes.remove_prefix(nl + 1);
  }
}

void LineSplitter::end(FinalLine final_line) {
  // The cap keeps at least one byte, so a line that got bytes is never empty.
  if (partial_.empty()) return;
  if (final_line == FinalLine::keep) {
    push_partial();
  } else {
    partial_.clear();
  }
}

std::optional<std::string> LineSplitter::pop_line() {
  if (lines_.empty()) return std::nullopt;
  std::string line = std::move(lines_.front());
  lines_.pop_front();
  queued_bytes_ -= line.size();
  return line;
}

void LineSplitter::clear() noexcept {
  lines_.clear();
  queued_bytes_ = 0;
  partial_.clear();
}

}  // namespace bounded_subprocess::detail
