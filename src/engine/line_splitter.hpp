// Splits a byte stream into lines, capping the pending line: when a line
// grows past `max_line` bytes before its '\n', its oldest bytes are dropped.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bounded_subprocess::detail {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : max_(max_line) {}

  /// Offers bytes; calls `on_line(std::string&&)` for each completed line
  /// (without its '\n').
  template <class OnLine>
  void feed(std::string_view bytes, OnLine&& on_line) {
    while (!bytes.empty()) {
      const std::size_t nl = bytes.find('\n');
      const std::string_view part = bytes.substr(0, nl);
      append(part);
      if (nl == std::string_view::npos) return;
      bytes.remove_prefix(nl + 1);
      std::string line = std::move(pending_);
      pending_.clear();
      in_line_ = false;
      on_line(std::move(line));
    }
  }

  /// At EOF: the last line if it had no '\n' (possibly empty after capping,
  /// never when nothing followed the last '\n').
  std::optional<std::string> flush() {
    if (!in_line_) return std::nullopt;
    in_line_ = false;
    std::string line = std::move(pending_);
    pending_.clear();
    return line;
  }

  /// True once some line lost bytes to the cap.
  bool truncated() const noexcept { return truncated_; }

 private:
  void append(std::string_view part) {
    if (part.empty()) return;
    in_line_ = true;
    if (part.size() >= max_) {
      truncated_ = truncated_ || part.size() > max_ || !pending_.empty();
      pending_.assign(part.substr(part.size() - max_));
      return;
    }
    const std::size_t total = pending_.size() + part.size();
    if (total > max_) {
      pending_.erase(0, total - max_);
      truncated_ = true;
    }
    pending_.append(part);
  }

  std::size_t max_;
  std::string pending_;
  bool in_line_ = false;  // bytes arrived since the last '\n'
  bool truncated_ = false;
};

}  // namespace bounded_subprocess::detail
