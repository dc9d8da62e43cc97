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

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void write_fd(int fd, std::string_view data, const std::string& what) {
  if (!write_all(fd, data)) throw_errno(what);
}

}  // namespace

FileLines::FileLines(int fd) : fd_(fd) {}

std::optional<std::string> FileLines::next(bool* complete) {
  for (;;) {
    const std::size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      *complete = true;
      return line;
    }
    if (eof_) {
      if (pos_ == buf_.size()) return std::nullopt;
      std::string line = buf_.substr(pos_);
      pos_ = buf_.size();
      *complete = false;
      return line;
    }
    buf_.erase(0, pos_);
    pos_ = 0;
    char chunk[65536];
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read");
    if (n == 0) eof_ = true;
    buf_.append(chunk, static_cast<std::size_t>(n > 0 ? n : 0));
  }
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

ResumeScan scan_for_resume(const std::string& path, KeySet& keys, std::uint8_t flag) {
  ResumeScan scan;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return scan;
    throw UsageError("cannot read --output '" + path + "' to resume: " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  // Pass 1: which jobs are done, and whether the file must be rewritten.
  FileLines lines(fd);
  std::size_t number = 0;
  bool complete = true;
  auto kept = [&](const std::string& text, std::size_t line_no) -> bool {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) {
      throw UsageError("cannot resume: line " + std::to_string(line_no) + " of '" + path +
                       "' is not a result line of bounded-run batch");
    }
    auto reason = j.find("reason");
    if (reason != j.end() && *reason == "cancelled") return false;
    auto id = j.find("id");
    auto line = j.find("line");
    if (id != j.end() && valid_id(*id)) {
      keys.add(id_key(*id), flag);
    } else if (line != j.end() && line->is_number_unsigned()) {
      keys.add(line_key(line->get<std::size_t>()), flag);
    } else {
      throw UsageError("cannot resume: line " + std::to_string(line_no) + " of '" + path +
                       "' has neither \"id\" nor \"line\"");
    }
    return true;
  };
  while (auto text = lines.next(&complete)) {
    ++number;
    if (!complete) {
      scan.cut_line = true;
      break;
    }
    if (kept(*text, number)) {
      ++scan.done;
    } else {
      ++scan.cancelled;
    }
  }
  if (scan.cancelled == 0 && !scan.cut_line) return scan;

  // Pass 2: copy the kept lines to a temporary file beside it, then rename.
  if (::lseek(fd, 0, SEEK_SET) < 0) throw_errno("cannot rewind '" + path + "'");
  std::string tmp = path + ".resume-XXXXXX";
  const int out = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (out < 0) throw UsageError("cannot rewrite '" + path + "' to resume: " + std::strerror(errno));
  try {
    FileLines again(fd);
    while (auto text = again.next(&complete)) {
      if (!complete) break;
      nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
      auto reason = j.find("reason");
      if (reason != j.end() && *reason == "cancelled") continue;
      write_fd(out, *text + "\n", "cannot rewrite '" + path + "'");
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0) ::fchmod(out, st.st_mode & 07777);
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
