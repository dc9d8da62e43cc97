// The one line splitter, for every entry point that reads lines (the line streams
// and both Interactive entry points): complete lines wait in a queue, and the
// pending line (its '\n' not arrived yet) is capped by dropping its oldest
// bytes, so a child that never writes '\n' cannot grow our memory. At EOF the
// entry point says what becomes of a last line without '\n': the streams yield it,
// Interactive drops it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace bounded_subprocess::detail {

/// What `LineSplitter::end` does with a pending line that has no '\n'.
enum class FinalLine {
  keep,  ///< it becomes the last line (line streams)
  drop,  ///< it is forgotten (Interactive)
};

class LineSplitter {
 public:
  /// `max_line` (> 0, else std::invalid_argument) bounds the bytes kept of
  /// any one line; a longer line keeps its newest `max_line` bytes.
  explicit LineSplitter(std::size_t max_line);

  /// Splits `bytes` into lines, appended to the queue.
  void append(std::string_view bytes);
  /// At EOF: the pending line (if any byte arrived since the last '\n')
  /// becomes a line or is dropped, as `final_line` says. Never adds a line
  /// when nothing followed the last '\n'.
  void end(FinalLine final_line);

  /// The oldest complete line, without its '\n'; nothing if none is complete.
  std::optional<std::string> pop_line();

  bool has_line() const noexcept { return !lines_.empty(); }
  /// Bytes of the complete lines waiting in the queue (for back-pressure).
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  /// Bytes of the pending (incomplete) line.
  std::size_t pending_size() const noexcept { return partial_.size(); }
  /// Bytes dropped by the cap so far.
  std::uint64_t dropped() const noexcept { return dropped_; }
  /// True once some line lost bytes to the cap.
  bool truncated() const noexcept { return dropped_ > 0; }
  /// Forgets the queued lines and the pending one (not the count of dropped
  /// bytes).
  void clear() noexcept;

 private:
  void add_to_partial(std::string_view segment);
  void push_partial();

  std::size_t max_line_;
  std::deque<std::string> lines_;
  std::size_t queued_bytes_ = 0;
  std::string partial_;
  std::uint64_t dropped_ = 0;
};

}  // namespace bounded_subprocess::detail
