#include "batch_output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "report.hpp"

namespace bounded_subprocess::cli {

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kBigLine = std::size_t{1} << 20;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void write_fd(int fd, std::string_view data, const std::string& what) {
  if (!write_all(fd, data)) throw_errno(what);
}

}  // namespace

std::string size_text(std::size_t bytes) {
  if (bytes % (std::size_t{1} << 20) == 0 && bytes > 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % 1024 == 0 && bytes > 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

OverlongLine::OverlongLine(std::size_t line_no, std::size_t max_line, bool endless)
    : std::runtime_error(
          endless ? "line " + std::to_string(line_no) + " has no end of line after " +
                        size_text(max_line * 2) + " (lines may be up to " + size_text(max_line) + ")"
                  : "line " + std::to_string(line_no) + " is longer than " + size_text(max_line)),
      line_no_(line_no) {}

FileLines::FileLines(int fd, std::size_t max_line) : fd_(fd), max_line_(max_line) {}

bool FileLines::fill() {
  if (pos_ > 0) {  // keep only the current line
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  // A long line gets its whole room at once: growing by doubling would
  // hold the old copy and the new one (twice the cap) for a moment.
  if (max_line_ != SIZE_MAX && buf_.size() + kChunk > buf_.capacity() && buf_.size() >= kBigLine) {
    buf_.reserve(max_line_ + kChunk);
  }
  char chunk[kChunk];
  for (;;) {
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read");
    if (n == 0) eof_ = true;
    buf_.append(chunk, static_cast<std::size_t>(n));
    return n > 0;
  }
}

std::optional<std::string> FileLines::next(bool* complete, bool* too_long) {
  if (too_long != nullptr) *too_long = false;
  std::size_t scan = pos_;
  std::size_t skipped = 0;  // bytes of an over-long line dropped so far
  bool skipping = false;
  for (;;) {
    const std::size_t nl = buf_.find('\n', scan);
    if (nl != std::string::npos) {
      ++line_no_;
      *complete = true;
      const bool over = skipping || nl - pos_ > max_line_;
      if (over && too_long == nullptr) throw OverlongLine(line_no_, max_line_, false);
      std::string line = over ? std::string() : buf_.substr(pos_, nl - pos_);
      if (over) *too_long = true;
      pos_ = nl + 1;
      return line;
    }
    scan = buf_.size();
    if (skipping || buf_.size() - pos_ > max_line_) {
      if (too_long == nullptr) throw OverlongLine(line_no_ + 1, max_line_, false);
      skipping = true;
      skipped += buf_.size() - pos_;
      buf_.clear();
      pos_ = scan = 0;
      if (skipped > max_line_ * 2) throw OverlongLine(line_no_ + 1, max_line_, true);
    }
    if (eof_) {
      if (pos_ == buf_.size() && !skipping) return std::nullopt;
      ++line_no_;
      *complete = false;
      if (skipping) {
        *too_long = true;
        return std::string();
      }
      std::string line = buf_.substr(pos_);
      pos_ = buf_.size();
      return line;
    }
    fill();
  }
}

std::optional<std::string> not_a_result_line(const nlohmann::json& j) {
  if (!j.is_object()) return "not a JSON object";
  auto has = [&](const char* key, auto&& check) {
    auto it = j.find(key);
    return it != j.end() && check(*it);
  };
  auto integer = [](const nlohmann::json& v) { return v.is_number_integer(); };
  auto string = [](const nlohmann::json& v) { return v.is_string(); };
  auto line_number = [](const nlohmann::json& v) {
    return v.is_number_unsigned() && v.get<std::size_t>() > 0;
  };
  const bool id = has("id", [](const nlohmann::json& v) { return valid_id(v); });
  if (!id && !has("line", line_number)) return "neither a usable \"id\" nor \"line\"";
  if (!has("exit_code", integer)) return "no integer \"exit_code\"";
  if (!has("reason", string)) return "no \"reason\"";
  if (j["reason"] == "error") {
    if (!has("error", string)) return "an error line without its \"error\" message";
    if (!has("line", line_number)) return "an error line without its \"line\" number";
    return std::nullopt;
  }
  const char* missing = nullptr;
  if (!has("timeout", [](const nlohmann::json& v) { return v.is_boolean(); })) missing = "timeout";
  if (!has("stdout", string)) missing = "stdout";
  if (!has("stderr", string)) missing = "stderr";
  if (!has("elapsed_seconds", [](const nlohmann::json& v) { return v.is_number(); }))
    missing = "elapsed_seconds";
  if (missing != nullptr) return std::string("a result without \"") + missing + "\"";
  return std::nullopt;
}

bool rerun_by_resume(const nlohmann::json& j) {
  auto reason = j.find("reason");
  if (reason != j.end() && *reason == "cancelled") return true;
  auto resumable = j.find("resumable");
  return resumable != j.end() && *resumable == true;
}

ResultSink::ResultSink(const std::optional<std::string>& path, bool resume, bool overwrite) {
  if (!path) {
    fd_ = STDOUT_FILENO;
    name_ = "stdout";
    return;
  }
  name_ = "'" + *path + "'";
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (overwrite) flags |= O_TRUNC;
  fd_ = ::open(path->c_str(), flags, 0666);
  if (fd_ < 0) throw UsageError("cannot open --output " + name_ + ": " + std::strerror(errno));
  own_ = true;
  struct stat st {};
  if (!resume && !overwrite && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    throw UsageError("--output " + name_ +
                     " already holds results: add --resume to go on with it, or --overwrite to start afresh");
  }
}

ResultSink::~ResultSink() {
  if (own_) ::close(fd_);
}

void ResultSink::write_line(std::string line) {
  line.push_back('\n');
  write_fd(fd_, line, "cannot write a result to " + name_);
}

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

ResumeScan scan_for_resume(const std::string& path, KeySet& keys, std::uint8_t flag) {
  ResumeScan scan;
  const std::string named = "--output '" + path + "'";
  // O_NONBLOCK: a FIFO is refused below instead of waiting for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return scan;
    throw UsageError("cannot read " + named + " to resume: " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw UsageError("cannot read " + named + " to resume: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    throw UsageError("--resume: " + named + " is " + file_kind(st.st_mode) +
                     ": only a regular file of results can be resumed");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);

  auto not_resumable = [&](std::size_t line_no, const std::string& why) {
    return UsageError("cannot resume: line " + std::to_string(line_no) + " of " + named +
                      " is not a result line of bounded-run batch: " + why);
  };
  // Pass 1: which jobs are done, and whether the file must be rewritten.
  FileLines lines(fd, kMaxJobLine);
  bool complete = true;
  auto kept = [&](const std::string& text, std::size_t line_no) -> bool {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (auto why = not_a_result_line(j)) throw not_resumable(line_no, *why);
    if (rerun_by_resume(j)) {
      ++(j["reason"] == "cancelled" ? scan.cancelled : scan.unstarted);
      return false;
    }
    auto id = j.find("id");
    if (id != j.end() && valid_id(*id)) {
      keys.add(id_key(*id), flag);
    } else {
      keys.add(line_key(j["line"].get<std::size_t>()), flag);
    }
    ++scan.done;
    return true;
  };
  try {
    while (auto text = lines.next(&complete)) {
      if (!complete) {
        scan.cut_line = true;
        break;
      }
      kept(*text, lines.line_no());
    }
  } catch (const OverlongLine& e) {
    throw UsageError("cannot resume from " + named + ": " + e.what() +
                     ", the longest line bounded-run batch reads: not a results file of bounded-run batch");
  } catch (const std::system_error& e) {
    throw UsageError("cannot read " + named + " to resume: " + e.code().message());
  }
  if (scan.cancelled == 0 && scan.unstarted == 0 && !scan.cut_line) return scan;

  // Pass 2: copy the kept lines to a temporary file beside it, then rename.
  if (::lseek(fd, 0, SEEK_SET) < 0) throw_errno("cannot rewind '" + path + "'");
  std::string tmp = path + ".resume-XXXXXX";
  const int out = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (out < 0) throw UsageError("cannot rewrite '" + path + "' to resume: " + std::strerror(errno));
  try {
    FileLines again(fd, kMaxJobLine);
    while (auto text = again.next(&complete)) {
      if (!complete) break;
      if (rerun_by_resume(nlohmann::json::parse(*text, nullptr, false))) continue;
      write_fd(out, *text + "\n", "cannot rewrite '" + path + "'");
    }
    ::fchmod(out, st.st_mode & 07777);
    if (::fsync(out) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0)
      throw_errno("cannot replace '" + path + "'");
  } catch (...) {
    ::close(out);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(out);
  return scan;
}

SpillFile::SpillFile() {
  const char* dir = std::getenv("TMPDIR");
  std::string where = dir != nullptr && *dir != '\0' ? dir : "/tmp";
  fd_ = ::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {  // file systems without O_TMPFILE
    std::string name = where + "/bounded-run-batch-XXXXXX";
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ < 0) throw_errno("cannot create a temporary file in " + where);
    ::unlink(name.c_str());
  }
}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

void SpillFile::append(std::string_view record) {
  std::string line(record);
  line.push_back('\n');
  write_fd(fd_, line, "cannot write to the temporary file of timed-out jobs");
  ++records_;
}

void SpillFile::rewind() {
  if (::lseek(fd_, 0, SEEK_SET) < 0) throw_errno("cannot rewind the temporary file of timed-out jobs");
  reader_.emplace(fd_);
}

std::optional<std::string> SpillFile::next() {
  if (!reader_) return std::nullopt;
  bool complete = true;
  return reader_->next(&complete);
}

}  // namespace bounded_subprocess::cli
