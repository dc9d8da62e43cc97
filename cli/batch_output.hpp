// The output side of `bounded-run batch`: result lines appended and flushed
// one by one, the scan of an earlier output for --resume, and the spill file
// that holds timed-out jobs until they are confirmed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "batch_jobs.hpp"

namespace bounded_subprocess::cli {

/// A line longer than a FileLines' cap (`line_no` is 1-based).
class OverlongLine : public std::runtime_error {
 public:
  /// `endless`: the line had not ended after twice the cap.
  OverlongLine(std::size_t line_no, std::size_t max_line, bool endless);
  std::size_t line_no() const { return line_no_; }

 private:
  std::size_t line_no_;
};

/// "64 MiB", "3 KiB", "10 bytes": a cap as the messages name it.
std::string size_text(std::size_t bytes);

/// Lines of a regular file (or any fd that is read blocking: a pipe), read
/// in chunks: one line in memory at a time, and never more than `max_line`
/// bytes of it, so an endless or lineless source (/dev/zero, a file of NUL
/// bytes) ends in an error instead of filling memory.
class FileLines {
 public:
  /// `max_line`: the longest line kept (SIZE_MAX: no cap, for the batch's
  /// own temporary files).
  explicit FileLines(int fd, std::size_t max_line = SIZE_MAX);
  /// The next line without its '\n'; `*complete` is false for a last line
  /// that has no '\n'. nullopt at the end.
  ///
  /// A line over the cap: without `too_long`, OverlongLine is thrown; with
  /// it, the line is skipped (its bytes dropped as they are read) and given
  /// as an empty string with `*too_long` set, unless it has not ended after
  /// another `max_line` bytes, which throws OverlongLine (an endless line).
  /// Errors: std::system_error from read(2), OverlongLine.
  std::optional<std::string> next(bool* complete, bool* too_long = nullptr);
  /// The number of the line last returned (1-based).
  std::size_t line_no() const { return line_no_; }

 private:
  bool fill();  // reads one chunk; false at the end of the file

  int fd_;
  std::size_t max_line_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t line_no_ = 0;
  bool eof_ = false;
};

/// Why `line` (parsed) is not a line that `bounded-run batch` writes: a
/// result (every field of `bounded-run --json`'s object) or an error line
/// ("reason": "error", "error", "line"), with a usable "id" or "line".
/// nullopt when it is one.
std::optional<std::string> not_a_result_line(const nlohmann::json& line);

/// True for a result line that --resume runs again: a cancelled result, or
/// a job that could not start for lack of resources ("resumable": true).
bool rerun_by_resume(const nlohmann::json& line);

/// Where result lines go: a file (appended with O_APPEND) or stdout. Each
/// line is one write(2) of the whole line and its '\n', so a crash or a
/// kill leaves whole lines (and at worst one cut-off last line, which
/// --resume drops).
class ResultSink {
 public:
  /// Opens `path` (stdout when absent). Without `resume` or `overwrite`, an
  /// output file that already holds data is refused (UsageError), so that a
  /// batch never silently throws results away; `overwrite` truncates it.
  ResultSink(const std::optional<std::string>& path, bool resume, bool overwrite);
  ResultSink(const ResultSink&) = delete;
  ResultSink& operator=(const ResultSink&) = delete;
  ~ResultSink();

  /// Writes `line` and a '\n'. Errors: std::system_error (a full disk, a
  /// closed pipe: SIGPIPE is ignored by the batch).
  void write_line(std::string line);

 private:
  int fd_ = -1;
  bool own_ = false;
  std::string name_;
};

/// What --resume found in an earlier output.
struct ResumeScan {
  std::size_t done = 0;       ///< result lines kept: those jobs are skipped
  std::size_t cancelled = 0;  ///< cancelled results dropped: those jobs run again
  std::size_t unstarted = 0;  ///< lines of jobs that lacked resources, dropped: they run again
  bool cut_line = false;      ///< a last line without its '\n' was dropped
};

/// Reads the output file `path` (a missing file is an empty one) and adds
/// the key of every finished result to `keys` with `flag` (the id's key, or
/// the line's key for a result of a line that had no usable id). Cancelled
/// results, lines of jobs that could not start for lack of resources and a
/// cut-off last line are removed from the file (rewritten through a
/// temporary file and rename) so that each job ends up with exactly one
/// line. Memory: one line at a time, at most kMaxJobLine bytes.
/// Errors: UsageError (exit 125, before any job starts) when `path` is not a
/// regular file (a device, a FIFO, a directory: nothing to resume from, and
/// reading it might never end), when a line is longer than kMaxJobLine, and
/// when a line is not a result line of a batch (not_a_result_line).
ResumeScan scan_for_resume(const std::string& path, KeySet& keys, std::uint8_t flag);

/// An unnamed temporary file of records (one line each), written while the
/// batch runs and read back once, in order.
class SpillFile {
 public:
  SpillFile();  ///< in $TMPDIR (or /tmp); Errors: std::system_error
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  ~SpillFile();

  void append(std::string_view record);  ///< Errors: std::system_error
  std::size_t records() const { return records_; }
  /// Reads the records back from the start (call once, after the last
  /// append); each `next` gives one, nullopt at the end.
  void rewind();
  std::optional<std::string> next();

 private:
  int fd_ = -1;
  std::size_t records_ = 0;
  std::optional<FileLines> reader_;
};

}  // namespace bounded_subprocess::cli
