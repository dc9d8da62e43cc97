#include "fd_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/post.hpp>

#include <cerrno>
#include <utility>

namespace bounded_subprocess::cli {

namespace {

bool can_wait_on(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || ::isatty(fd) == 1;
}

}  // namespace

FdSource::FdSource(const asio::any_io_executor& ex, int fd) : ex_(ex), desc_(ex) {
  pollable_ = can_wait_on(fd);
  ready_ = !pollable_;
  desc_.assign(fd);  // owns the fd; a source that cannot be waited on is never waited on
}

FdSource::~FdSource() = default;

int FdSource::open_input(const std::string& path, const std::string& what) {
  int fd = -1;
  if (path == "-") {
    fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  } else {
    // O_NONBLOCK: opening a FIFO does not wait for a writer. It stays set on
    // this private open file description; reads then end in EAGAIN.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  }
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + what);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw std::system_error(EISDIR, std::generic_category(), "cannot read " + what);
  }
  return fd;
}

FdSource::Status FdSource::read_now(char* buf, std::size_t size, std::size_t* got) {
  *got = 0;
  if (!ready_) return Status::would_block;
  for (;;) {
    const ssize_t n = ::read(desc_.native_handle(), buf, size);
    if (n > 0) {
      *got = static_cast<std::size_t>(n);
      if (pollable_) ready_ = false;  // the next read waits for readiness again
      return Status::data;
    }
    if (n == 0) return Status::eof;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ready_ = !pollable_;
      if (!pollable_) return Status::eof;  // cannot happen for files; do not spin
      return Status::would_block;
    }
    throw std::system_error(errno, std::generic_category(), "read");
  }
}

void FdSource::async_wait_readable(std::function<void(std::error_code)> handler) {
  if (!pollable_) {
    asio::post(ex_, [h = std::move(handler)] { h({}); });
    return;
  }
  desc_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [this, h = std::move(handler)](std::error_code ec) {
                     if (!ec) ready_ = true;
                     h(ec);
                   });
}

void FdSource::cancel() {
  std::error_code ignored;
  desc_.cancel(ignored);
}

}  // namespace bounded_subprocess::cli
