// Reading an input (a --stdin-file, a batch's job file, bounded-run's own
// stdin) inside an Asio event loop without ever blocking it: pipes, FIFOs,
// sockets and terminals are waited on (epoll) before each read; regular
// files and devices that cannot be waited on (/dev/zero) never block, so
// they are read directly.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <system_error>

namespace bounded_subprocess::cli {

class FdSource {
 public:
  enum class Status { data, eof, would_block };

  /// Takes ownership of `fd` (it is closed on destruction). Never sets
  /// O_NONBLOCK on it (a shared stdin keeps its flags): a pollable fd is
  /// read only after it was reported readable.
  FdSource(const asio::any_io_executor& ex, int fd);
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;
  ~FdSource();

  /// Opens `path` for reading ("-": a duplicate of bounded-run's stdin). A
  /// FIFO is opened without waiting for a writer. `what` names the file in
  /// errors. Errors: std::system_error (open failed, or a directory).
  static int open_input(const std::string& path, const std::string& what);

  /// Reads at most `size` bytes if that cannot block: `data` (with `*got`
  /// set), `eof`, or `would_block` (then call async_wait_readable).
  /// Errors: std::system_error from read(2).
  Status read_now(char* buf, std::size_t size, std::size_t* got);

  /// Calls `handler(error)` once the fd is readable (or at once, posted,
  /// for a source that is never waited on). operation_aborted after cancel().
  void async_wait_readable(std::function<void(std::error_code)> handler);

  /// Cancels a pending wait.
  void cancel();

 private:
  asio::any_io_executor ex_;
  asio::posix::stream_descriptor desc_;
  bool pollable_ = false;
  bool ready_ = false;
};

}  // namespace bounded_subprocess::cli
