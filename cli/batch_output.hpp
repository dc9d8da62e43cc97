// The output side of `bounded-run batch`: result lines appended and flushed
// one by one, the scan of an earlier output for --resume, and the spill file
// that holds timed-out jobs until they are confirmed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "batch_jobs.hpp"

namespace bounded_subprocess::cli {

/// Lines of a regular file (or any fd that does not block), read in
/// chunks: one line in memory at a time.
class FileLines {
 public:
  explicit FileLines(int fd);
  /// The next line without its '\n'; `*complete` is false for a last line
  /// that has no '\n'. nullopt at the end. Errors: std::system_error.
  std::optional<std::string> next(bool* complete);

 private:
  int fd_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool eof_ = false;
};

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
  bool cut_line = false;      ///< a last line without its '\n' was dropped
};

/// Reads the output file `path` (a missing file is an empty one) and adds
/// the key of every finished result to `keys` with `flag` (the id's key, or
/// the line's key for a result of a line that had no usable id). Cancelled
/// results and a cut-off last line are removed from the file (rewritten
/// through a temporary file and rename) so that each job ends up with
/// exactly one line. Memory: one line at a time.
/// Errors: UsageError when a line is not a result line of a batch.
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
