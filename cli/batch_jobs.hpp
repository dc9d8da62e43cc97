// The input side of `bounded-run batch`: lines read without blocking the
// event loop and with bounded memory, a line turned into a job (or into the
// reason it is not one), the keys that identify jobs across runs (resume,
// shards, duplicates), and a compact set of those keys.
#pragma once

#include <asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "fd_source.hpp"
#include "run_spec.hpp"

namespace bounded_subprocess::cli {

/// The longest job line accepted (a job's stdin data is part of its line).
inline constexpr std::size_t kMaxJobLine = std::size_t{64} << 20;

/// Lines of an fd, one at a time, never blocking: a pollable fd is waited on
/// by the caller (async_wait) when `next` says so. Memory: at most one line
/// (bounded by `max_line`) plus one read chunk.
class LineReader {
 public:
  enum class Got { line, too_long, endless, eof, wait };

  /// Takes ownership of `fd`.
  LineReader(const asio::any_io_executor& ex, int fd, std::size_t max_line);

  /// The next line (without '\n'; a last line without one counts) and its
  /// 1-based number; `too_long` for a line over `max_line` (skipped whole);
  /// `endless` for a line that has not ended after twice `max_line` bytes
  /// (/dev/zero, a file of NUL bytes: the reader gives up, and says so
  /// again if called); `eof`; or `wait` (call async_wait, then `next`
  /// again).
  /// Errors: std::system_error from read(2).
  Got next(std::string& line, std::size_t& line_no);
  void async_wait(std::function<void(std::error_code)> handler) {
    source_.async_wait_readable(std::move(handler));
  }
  void cancel() { source_.cancel(); }

 private:
  FdSource source_;
  std::size_t max_line_;
  std::string buf_;
  std::size_t pos_ = 0;   // start of the current line in buf_
  std::size_t scan_ = 0;  // where to look for '\n' next
  std::size_t line_no_ = 0;
  bool skipping_ = false;    // inside a line that is too long
  std::size_t skipped_ = 0;  // bytes of that line dropped so far
  bool eof_ = false;
};

/// A 64-bit key for an id (FNV-1a of its type and text, so 7 and "7"
/// differ), stable across runs and machines; and one for a line number
/// (results of lines without a usable id).
std::uint64_t id_key(const nlohmann::json& id);
std::uint64_t line_key(std::size_t line_no);

/// True for the ids a job may have: a string or an integer.
bool valid_id(const nlohmann::json& id);

/// A job line, parsed and checked (its own fields only; the command line's
/// defaults are merged by the caller).
struct Job {
  std::size_t line_no = 0;
  nlohmann::json id;
  RunSettings settings;
};

/// A line that is not a job: why, and its id when it had a usable one.
struct BadLine {
  std::size_t line_no = 0;
  std::optional<nlohmann::json> id;
  std::string error;
};

/// Parses one line: a JSON object with "id" (string or integer), "args" (a
/// non-empty array of strings, the first not empty) and run options under
/// their JSON names (run_spec.hpp); any other field is an error.
std::variant<Job, BadLine> parse_job(std::string_view line, std::size_t line_no);

/// The id of a line if it is a JSON object with a usable "id", else nullopt
/// (for sharding by id before the whole line is checked).
std::optional<nlohmann::json> peek_id(std::string_view line);

/// A set of 64-bit keys with one byte of flags each, open addressing: about
/// 13 bytes per key, whatever the ids look like.
class KeySet {
 public:
  /// Flags of `key`, 0 when absent.
  std::uint8_t get(std::uint64_t key) const;
  /// Sets flags (ORed into any present); returns the flags it had.
  std::uint8_t add(std::uint64_t key, std::uint8_t flags);
  std::size_t size() const { return size_; }

 private:
  std::size_t find(std::uint64_t key) const;
  void grow();

  std::vector<std::uint64_t> keys_;  // 0: empty slot (key 0 is stored as 1)
  std::vector<std::uint8_t> flags_;
  std::size_t size_ = 0;
};

}  // namespace bounded_subprocess::cli
