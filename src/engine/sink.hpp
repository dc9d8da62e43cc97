// Where the Supervisor puts the bytes of one output stream: a value the entry point
// chooses when it builds the Supervisor, not a hook of a driver. Two kinds:
//  - a bounded capture (the first or last N bytes, `run`'s Result::out/err);
//  - a capped line splitter with back-pressure (the line streams' stdout):
//    complete lines queue up to a bound; while the queue is full the sink is
//    paused, the Supervisor stops asking for the fd's readability and the
//    child blocks on its full pipe; taking lines re-opens it.
// Every byte read, including the drain after the child's exit, goes through
// the same sink, so no entry point re-stitches leftovers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "bounded_subprocess/result.hpp"
#include "engine/capture_buffer.hpp"
#include "engine/line_splitter.hpp"

namespace bounded_subprocess::detail {

/// The bound on queued lines of a line sink, in bytes (the line stream's).
inline constexpr std::size_t kLineQueueCap = 1024 * 1024;

class Sink {
 public:
  /// Keeps the first (`tail` false) or last `limit` bytes.
  static Sink capture(std::size_t limit, bool tail) { return Sink(CaptureBuffer(limit, tail)); }
  /// Splits into lines of at most `max_line` bytes (> 0, else
  /// std::invalid_argument); pauses while `queue_cap` bytes of lines wait.
  /// A last line without '\n' is kept at the end.
  static Sink lines(std::size_t max_line, std::size_t queue_cap = kLineQueueCap) {
    return Sink(Lines{LineSplitter(max_line), queue_cap});
  }

  /// Offers bytes read from the stream.
  void append(std::string_view bytes);
  /// Counts bytes thrown away without being offered (see `discarding`).
  void count_discarded(std::uint64_t n) noexcept;
  /// True once nothing more would be kept: later bytes may be dropped in the
  /// kernel (splice to /dev/null) and only counted.
  bool discarding() const noexcept;
  /// True while the reader should not read (back-pressure). Bytes that must
  /// be read anyway (the drain after the exit) may still be appended.
  bool paused() const noexcept;
  /// The stream is over (the child exited and its pipe was drained).
  void end();
  /// The run's Capture: the kept bytes of a capture; for lines no data, the
  /// count of bytes and whether a line was cut.
  Capture take();

  /// The line queue of a line sink; null for a capture.
  LineSplitter* lines() noexcept;

 private:
  struct Lines {
    LineSplitter splitter;
    std::size_t queue_cap;
    std::uint64_t total = 0;
  };
  explicit Sink(CaptureBuffer c) : sink_(std::move(c)) {}
  explicit Sink(Lines l) : sink_(std::move(l)) {}

  std::variant<CaptureBuffer, Lines> sink_;
};

}  // namespace bounded_subprocess::detail
