// The native module's event loop: one asio::io_context run by one C++ thread,
// shared by every async operation of the Python entry points (async run, async
// Interactive, line streams). Python never runs on that thread; results are
// handed over through `Pending` objects (pending.hpp).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace bounded_subprocess::python {

class Reactor {
 public:
  /// The process's reactor, started on first use. After a fork, the child
  /// gets a fresh one (the parent's thread does not exist there).
  /// Thread safety: any thread.
  static Reactor& instance();

  asio::any_io_executor executor() { return io_.get_executor(); }

  /// False in a forked copy of the process that started this reactor: its
  /// thread does not exist there, and its objects (children, locks) are the
  /// parent's. Objects of such a reactor are left alone, never destroyed.
  bool owned_by_this_process() const noexcept { return owner_ == ::getpid(); }

  /// Runs `f` on the reactor's thread.
  template <class F>
  void post(F&& f) {
    asio::post(io_, std::forward<F>(f));
  }

  /// Registers `on_shutdown`, called on the reactor's thread at interpreter
  /// exit (to cancel a run, or kill an Interactive). Call on the reactor's
  /// thread; returns an id for `forget`.
  std::uint64_t remember(std::function<void()> on_shutdown);
  /// Drops a registration (reactor's thread only).
  void forget(std::uint64_t id);

  /// An operation started / ended (any thread); `shutdown` waits for them.
  void begin_op() noexcept { ++ops_; }
  void end_op();

  /// At interpreter exit (registered with `atexit`): calls every registered
  /// shutdown action, waits (bounded) for the operations they end, then
  /// stops the thread. Every child the module started is then killed and
  /// reaped. Operations started afterwards start a new reactor.
  /// Call without the GIL.
  static void shutdown_all();

  /// Keeps `instance()` usable in a forked child (its lock is not held
  /// there). Once, at import.
  static void install_fork_handlers();

 private:
  Reactor();
  ~Reactor() = delete;  // lives until the process ends (see shutdown_all)
  void shutdown();

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  pid_t owner_;
  std::map<std::uint64_t, std::function<void()>> on_shutdown_;  // reactor thread only
  std::uint64_t next_id_ = 1;
  std::atomic<long> ops_{0};
  std::mutex mu_;
  std::condition_variable idle_;
};

}  // namespace bounded_subprocess::python
