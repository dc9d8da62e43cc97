// The line splitter shared by both Interactive faces: complete lines wait in
// a queue, the pending partial line is capped at a byte limit by dropping its
// oldest bytes, so a child that never writes '\n' cannot grow our memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace bounded_subprocess::detail {

class LineBuffer {
 public:
  /// `max_pending` (> 0) bounds the bytes kept of a line whose '\n' has not
  /// arrived yet; a longer line keeps its newest `max_pending` bytes.
  explicit LineBuffer(std::size_t max_pending);

  /// Splits `bytes` into lines. Never keeps more than `max_pending` bytes of
  /// any one line.
  void append(std::string_view bytes);

  /// The oldest complete line, without its '\n'; nothing if none is complete.
  std::optional<std::string> pop_line();

  bool has_line() const noexcept { return !lines_.empty(); }
  /// Bytes of the pending (incomplete) line.
  std::size_t pending_size() const noexcept { return partial_.size(); }
  /// Bytes dropped by the cap so far.
  std::uint64_t dropped() const noexcept { return dropped_; }
  /// Forgets everything buffered (the partial line at EOF, for instance).
  void clear() noexcept;

 private:
  void add_to_partial(std::string_view segment);

  std::size_t max_pending_;
  std::deque<std::string> lines_;
  std::string partial_;
  std::uint64_t dropped_ = 0;
};

}  // namespace bounded_subprocess::detail
